//! JSON Schemas of scenario files and gateway profiles, generated from the
//! serde models (`schemars`), so editors complete keys, show their doc
//! comments on hover and flag bad keys as they are typed. `scenario schema`
//! prints them; `schema/*.schema.json` are the committed copies the
//! shipped files point at with a `#:schema` first line.
//!
//! The derives follow the serde attributes (`deny_unknown_fields` becomes
//! `additionalProperties: false`, defaults are shown); what serde reads
//! through custom code (durations, CPU lists, `arrival`, a list of workers
//! or instances that makes variants) gets its schema here, as do the keys
//! a scenario file has before it is merged (`extends`, `[variants.NAME]`).

use std::process::ExitCode;

use schemars::generate::SchemaSettings;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Value};

use crate::scenario::model::{Arrival, ScenarioFile};
use crate::scenario::profile::Profile;
use crate::topology::cpus::CpuList;

/// Which file a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A scenario file (`scenarios/*.toml`).
    Scenario,
    /// A gateway profile (`templates/gateways/*.toml`).
    Profile,
}

impl Kind {
    /// Every kind, in the order `schema/` lists them.
    pub const ALL: [Kind; 2] = [Kind::Scenario, Kind::Profile];

    /// `scenario` or `profile`: the committed file is `schema/NAME.schema.json`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Scenario => "scenario",
            Kind::Profile => "profile",
        }
    }

    /// The schema as a JSON value.
    pub fn schema(self) -> Value {
        match self {
            Kind::Scenario => scenario(),
            Kind::Profile => profile(),
        }
    }

    /// The schema as written to `schema/NAME.schema.json`: pretty JSON and a newline.
    pub fn render(self) -> String {
        let mut text =
            serde_json::to_string_pretty(&self.schema()).expect("a JSON value serializes");
        text.push('\n');
        text
    }
}

/// `scenario schema KIND`: print the schema.
pub fn main(kind: Kind) -> ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(kind.render().as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            errln!("error: cannot write the schema to stdout: {e}");
            ExitCode::from(2)
        }
    }
}

/// Draft 7: the newest draft every editor's TOML support reads
/// (Even Better TOML / taplo).
fn generator() -> SchemaGenerator {
    SchemaSettings::draft07().into_generator()
}

/// The schema of a scenario file as written: the merged model's keys plus
/// `extends` and `[variants.NAME]` (partial scenarios over the rest).
pub fn scenario() -> Value {
    let mut root = generator()
        .into_root_schema_for::<ScenarioFile>()
        .to_value();
    let definitions = root["definitions"]
        .as_object_mut()
        .expect("the model has nested tables");
    // `[assert.rate.N]` is serde's alias of `[assert.concurrency.N]`;
    // schemars does not follow aliases.
    let thresholds = &mut definitions["Thresholds"]["properties"];
    let mut rate = thresholds["concurrency"].clone();
    rate["description"] = json!(
        "Per rate of a rate sweep: `[assert.rate.N]` (the same as `[assert.concurrency.N]`)."
    );
    thresholds["rate"] = rate;
    // One scenario's tables, as a variant (and a base) may hold them.
    let mut tables = root.clone();
    let tables = tables.as_object_mut().expect("an object schema");
    for meta in ["$schema", "definitions", "title"] {
        tables.remove(meta);
    }
    tables.insert(
        "description".into(),
        json!("A variant: keys merged over the rest of the file, like `extends`."),
    );
    let properties = root["properties"]
        .as_object_mut()
        .expect("a scenario is a table");
    properties.insert(
        "extends".into(),
        json!({
            "description": "Base files merged under this one (tables key by key; this file wins), relative to this file: `extends = \"bases/promptflow-serving.toml\"` or a list of such names, the later winning.",
            "anyOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } }
            ]
        }),
    );
    properties.insert(
        "variants".into(),
        json!({
            "description": "Several configurations in one file, compared side by side: `[variants.NAME]` holds the keys that differ from the rest of the file.",
            "type": "object",
            "minProperties": 1,
            "additionalProperties": { "$ref": "#/definitions/Variant" }
        }),
    );
    root["definitions"]["Variant"] = Value::Object(tables.clone());
    drop_null(&mut root);
    root["title"] = json!("scenario file");
    root["description"] = json!("A benchmark scenario for `scenario run`: what runs (`[topology]`, `[upstream]`), what is sent (`[request]`, `[load]`) and what passes (`[assert]`, `[report]`).");
    root
}

/// The schema of a gateway profile (`templates/gateways/NAME.toml`).
pub fn profile() -> Value {
    let mut root = generator().into_root_schema_for::<Profile>().to_value();
    drop_null(&mut root);
    root["title"] = json!("gateway profile");
    root["description"] = json!("How to provision, start, probe and set up one gateway, for `[topology] gateway` of a scenario.");
    root
}

/// TOML has no null: an `Option` key is simply left out, so the `null`
/// schemars allows for it is dropped (editors would offer it otherwise).
fn drop_null(schema: &mut Value) {
    match schema {
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        Value::Object(map) => {
            map.values_mut().for_each(drop_null);
            match map.get_mut("default") {
                Some(Value::Null) => {
                    map.remove("default");
                }
                Some(default) => strip_null_values(default),
                None => {}
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if let [only] = types.as_slice() {
                    let only = only.clone();
                    map.insert("type".into(), only);
                }
            }
            let null = json!({ "type": "null" });
            if let Some(Value::Array(any)) = map.get_mut("anyOf") {
                any.retain(|s| *s != null);
                if let [only] = any.as_slice() {
                    let only = only.clone();
                    map.remove("anyOf");
                    match only {
                        // Draft 7 ignores the siblings of a `$ref`: keep the
                        // description beside it through `allOf`.
                        Value::Object(o) if o.contains_key("$ref") => {
                            map.insert("allOf".into(), json!([o]));
                        }
                        Value::Object(o) => {
                            for (k, v) in o {
                                map.entry(k).or_insert(v);
                            }
                        }
                        other => {
                            map.insert("anyOf".into(), json!([other]));
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// A default table as serde writes it, without its unset (`null`) keys.
fn strip_null_values(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_null_values);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null_values),
        _ => {}
    }
}

/// A duration written as text, parsed by humantime.
pub fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": "^\\s*([0-9]+\\s*[a-zA-Zµ]+\\s*)+$",
        "description": "A duration: a number and a unit, e.g. \"30s\", \"500ms\", \"2m\", \"1h 30m\".",
        "examples": ["30s", "500ms", "2m"]
    })
}

/// `topology.instances` / `topology.workers`: a count, or a list of counts
/// that makes one variant per value.
pub fn count_or_sweep(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "integer", "minimum": 0 },
            {
                "type": "array",
                "items": { "type": "integer", "minimum": 0 },
                "minItems": 1,
                "description": "One variant per value, e.g. [1, 2, 4]."
            }
        ]
    })
}

impl JsonSchema for Arrival {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Arrival".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "How open-loop arrivals are spaced: \"constant\" (exactly 1/rate apart), \"poisson\" (exponential gaps, the default) or { kind = \"gamma\", cv = 2.0 } (gamma gaps with that coefficient of variation; above 1 burstier).",
            "anyOf": [
                { "type": "string", "enum": ["constant", "poisson"] },
                {
                    "type": "object",
                    "properties": {
                        "kind": { "const": "gamma" },
                        "cv": { "type": "number", "exclusiveMinimum": 0 }
                    },
                    "required": ["kind", "cv"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl JsonSchema for CpuList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CpuList".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^\\s*[0-9]+(\\s*-\\s*[0-9]+)?(\\s*,\\s*[0-9]+(\\s*-\\s*[0-9]+)?)*\\s*$",
            "description": "A CPU list as taskset writes it, e.g. \"0\", \"2-3\" or \"0-1,4\".",
            "examples": ["0", "2-3", "0-1,4"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_closed_and_doc_comments_describe_keys() {
        let s = scenario();
        assert_eq!(s["additionalProperties"], json!(false));
        let load = &s["definitions"]["Load"];
        assert_eq!(load["additionalProperties"], json!(false));
        assert!(load["properties"]["duration"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("Measure for this long")));
        assert_eq!(load["properties"]["duration"]["type"], json!("string"));
        assert!(s["definitions"]["Thresholds"]["properties"]["rate"].is_object());
        assert!(s["definitions"]["Variant"]["properties"]["extends"].is_null());
        let p = profile();
        assert_eq!(p["required"], json!(["name", "instance"]));
    }
}
