//! Serde over the spanned tree: typed models derive `Deserialize`, and every
//! error comes back with the key path and origin of the value that caused it.
//!
//! Serde stops at the first error. To report them all, [`from_tree`] records
//! the error, removes the offending key from the tree and tries again, until
//! the tree deserializes (or the error cannot be removed).

use std::fmt::{self, Display};

use serde::de::{
    self, value::MapAccessDeserializer, value::StrDeserializer, DeserializeOwned, DeserializeSeed,
    IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use super::tree::{Entry, KeyPath, Node, Seg, Value};
use crate::diag::{did_you_mean, Problem};

/// A deserialization error, tagged with where in the tree it happened.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    path: Option<KeyPath>,
}

#[derive(Debug)]
enum Kind {
    UnknownKey(String, &'static [&'static str]),
    UnknownVariant(String, &'static [&'static str]),
    Missing(&'static str),
    Other(String),
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::UnknownKey(k, _) => write!(f, "unknown key `{k}`"),
            Kind::UnknownVariant(v, _) => write!(f, "unknown value `{v}`"),
            Kind::Missing(k) => write!(f, "missing key `{k}`"),
            Kind::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error {
            kind: Kind::Other(msg.to_string()),
            path: None,
        }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "wrong type: expected {}, found {unexp}",
            plain(exp)
        ))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "invalid value: expected {}, found {unexp}",
            plain(exp)
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error {
            kind: Kind::UnknownKey(field.to_string(), expected),
            path: None,
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error {
            kind: Kind::UnknownVariant(variant.to_string(), expected),
            path: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Error {
            kind: Kind::Missing(field),
            path: None,
        }
    }
}

/// Serde names Rust types ("u64"); say what a TOML writer should write.
/// What serde expected, in the words of a scenario file: never a Rust type
/// name (`struct Faults`, `internally tagged enum DelayModel`).
fn plain(exp: &dyn de::Expected) -> String {
    let text = exp.to_string();
    match text.as_str() {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number ≥ 0".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list, e.g. [1, 10]".into(),
        "internally tagged enum DelayModel" => "a delay model: { kind = \"fixed\", ms = 40 }, \
            { kind = \"uniform\", min_ms = 10, max_ms = 90 }, \
            { kind = \"normal\", mean_ms = 50, sd_ms = 5 } or \
            { kind = \"lognormal\", p50_ms = 50, p99_ms = 400 }"
            .into(),
        t if t.starts_with("internally tagged enum ") => {
            "a table with a `kind` key, e.g. { kind = \"…\", … }".into()
        }
        t if t.starts_with("struct ") || t.starts_with("a map") => {
            "a table: { key = value, … } or a [section]".into()
        }
        t if t.starts_with("enum ") => "one of the words the reference lists for this key".into(),
        _ => text,
    }
}

fn at<T>(result: Result<T, Error>, path: &KeyPath) -> Result<T, Error> {
    result.map_err(|mut e| {
        if e.path.is_none() {
            e.path = Some(path.clone());
        }
        e
    })
}

/// Deserialize `T` from `root`, collecting a problem for every bad key.
/// The value is what deserialized once the bad keys were taken out (their
/// defaults in their place), so later checks can still look at the rest.
pub fn from_tree<T: DeserializeOwned>(root: &Node) -> (Option<T>, Vec<Problem>) {
    let mut tree = root.clone();
    let mut problems = Vec::new();
    let mut removed: Vec<KeyPath> = Vec::new();
    for _ in 0..256 {
        let err = match T::deserialize(De {
            node: &tree,
            path: KeyPath::default(),
        }) {
            Ok(value) => return (Some(value), problems),
            Err(err) => err,
        };
        let path = err.path.clone().unwrap_or_default();
        if let Kind::Missing(field) = &err.kind {
            let missing = path.child(Seg::Key(field.to_string()));
            if !removed.contains(&missing) {
                problems.push(problem(&err, &path, &tree));
            }
            return (None, problems);
        }
        problems.push(problem(&err, &path, &tree));
        if !tree.remove(&path) {
            return (None, problems);
        }
        removed.push(path);
    }
    (None, problems)
}

fn problem(err: &Error, path: &KeyPath, tree: &Node) -> Problem {
    let parent = || {
        let mut p = path.clone();
        p.0.pop();
        if p.0.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in [{p}]")
        }
    };
    let list = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &err.kind {
        Kind::UnknownKey(key, expected) => {
            let p = Problem::new(
                path.to_string(),
                format!("unknown key `{key}` {}", parent()),
            )
            .at(tree.origin_of(path, true));
            let p = match did_you_mean(key, expected) {
                Some(s) => p.label(format!("did you mean `{s}`?")),
                None => p.label("not a key here"),
            };
            p.note(format!("valid keys {}: {}", parent(), list(expected)))
        }
        Kind::UnknownVariant(value, expected) => {
            let p = Problem::new(
                path.to_string(),
                format!("unknown value `{value}` for `{path}`"),
            )
            .at(tree.origin_of(path, false));
            let p = match did_you_mean(value, expected) {
                Some(s) => p.label(format!("did you mean `{s}`?")),
                None => p.label("not a valid value"),
            };
            p.note(format!("valid values: {}", list(expected)))
        }
        Kind::Missing(field) => {
            let key = path.child(Seg::Key(field.to_string()));
            let table = if path.0.is_empty() {
                "the top level".to_string()
            } else {
                format!("[{path}]")
            };
            Problem::new(key.to_string(), format!("missing key `{field}` in {table}"))
                .at(tree.origin_of(path, false))
                .label(format!("add `{field} = …` here"))
        }
        Kind::Other(message) => Problem::new(path.to_string(), format!("bad value for `{path}`"))
            .at(tree.origin_of(path, false))
            .label(message.clone()),
    }
}

/// A deserializer for one node of the tree.
pub struct De<'a> {
    pub node: &'a Node,
    pub path: KeyPath,
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.value {
            Value::String(s) | Value::Datetime(s) => visitor.visit_str(s),
            Value::Integer(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Boolean(b) => visitor.visit_bool(*b),
            Value::Array(items) => visitor.visit_seq(SeqDe {
                items: items.iter().enumerate(),
                path: &self.path,
            }),
            Value::Table(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                path: &self.path,
            }),
        };
        at(result, &self.path)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let result = match &self.node.value {
            Value::String(s) => visitor.visit_enum(StrDeserializer::<Error>::new(s)),
            Value::Table(entries) => visitor.visit_enum(MapAccessDeserializer::new(MapDe {
                entries: entries.iter(),
                value: None,
                path: &self.path,
            })),
            other => Err(de::Error::custom(format_args!(
                "wrong type: expected a string or a table, found {}",
                other.type_name()
            ))),
        };
        at(result, &self.path)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct SeqDe<'a, I> {
    items: I,
    path: &'a KeyPath,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Node)>> SeqAccess<'de> for SeqDe<'a, I> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            None => Ok(None),
            Some((i, node)) => {
                let path = self.path.child(Seg::Index(i));
                at(
                    seed.deserialize(De {
                        node,
                        path: path.clone(),
                    }),
                    &path,
                )
                .map(Some)
            }
        }
    }
}

struct MapDe<'a, I> {
    entries: I,
    value: Option<(&'a Node, KeyPath)>,
    path: &'a KeyPath,
}

impl<'de, 'a, I: Iterator<Item = (&'a String, &'a Entry)>> MapAccess<'de> for MapDe<'a, I> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            None => Ok(None),
            Some((key, entry)) => {
                let path = self.path.child(Seg::Key(key.clone()));
                let result = seed.deserialize(key.as_str().into_deserializer());
                self.value = Some((&entry.node, path.clone()));
                at(result, &path).map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (node, path) = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("value asked for before its key"))?;
        at(
            seed.deserialize(De {
                node,
                path: path.clone(),
            }),
            &path,
        )
    }
}

impl<'de> IntoDeserializer<'de, Error> for De<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Sources;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default)]
        load: Load,
        #[serde(default)]
        mode: Option<Mode>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Load {
        #[serde(default)]
        concurrency: Vec<u32>,
        #[serde(default)]
        requests: Option<u64>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    enum Mode {
        RoundRobin,
        Random,
    }

    fn problems(text: &str) -> (Option<Doc>, Vec<String>) {
        let mut sources = Sources::default();
        let id = sources.add("t.toml", text);
        let tree = super::super::tree::parse(&sources, id).unwrap();
        let (doc, problems) = from_tree::<Doc>(&tree);
        let rendered = problems
            .iter()
            .map(|p| {
                format!(
                    "{} {} {}",
                    sources.locate(p.origin.as_ref().unwrap()),
                    p.key,
                    p.message
                )
            })
            .collect();
        (doc, rendered)
    }

    #[test]
    fn collects_every_problem_with_its_place() {
        let (doc, found) = problems(
            "mode = \"round-robn\"\n[load]\nconcurency = [1]\nrequests = \"many\"\nconcurrency = [1, -2]\n",
        );
        assert!(doc.is_some(), "the rest still deserializes");
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found[0].starts_with("t.toml:1:8 mode unknown value `round-robn`"));
        assert!(found[1].starts_with("t.toml:3:1 load.concurency unknown key"));
        assert!(found[2].starts_with("t.toml:4:12 load.requests bad value"));
        assert!(found[3].starts_with("t.toml:5:19 load.concurrency[1] bad value"));
    }

    #[test]
    fn a_good_file_deserializes() {
        let (doc, found) = problems("mode = \"random\"\n[load]\nconcurrency = [1, 2]\n");
        assert!(found.is_empty(), "{found:?}");
        let doc = doc.unwrap();
        assert_eq!(doc.load.concurrency, vec![1, 2]);
        assert_eq!(doc.load.requests, None);
        assert!(matches!(doc.mode, Some(Mode::Random)));
    }
}
