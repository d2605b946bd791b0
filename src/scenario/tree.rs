//! A TOML document as a tree whose every key and value remembers where it was written.
//!
//! Scenario files are parsed into this tree, `extends` bases are merged into
//! it and `--set` overrides are applied to it, all before any typed model
//! exists, so that each value still points at its own file, line and column.

use std::fmt;

use indexmap::IndexMap;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diag::{Origin, Problem, Sources};

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A key path such as `load.concurrency[1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn child(&self, seg: Seg) -> KeyPath {
        let mut segs = self.0.clone();
        segs.push(seg);
        KeyPath(segs)
    }

    /// Parse `a.b[2].c` (the form used by `--set` and by problems).
    pub fn parse(text: &str) -> Option<KeyPath> {
        let mut segs = Vec::new();
        for part in text.split('.') {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if name.is_empty() {
                return None;
            }
            segs.push(Seg::Key(name.to_string()));
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']')?;
                segs.push(Seg::Index(stripped[..end].parse().ok()?));
                rest = &stripped[end + 1..];
            }
            if !rest.is_empty() {
                return None;
            }
        }
        (!segs.is_empty()).then_some(KeyPath(segs))
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A value and where it was written.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Datetime(String),
    Array(Vec<Node>),
    Table(IndexMap<String, Entry>),
}

/// A table entry: the key's own origin (for "unknown key" carets) and its value.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: Origin,
    pub node: Node,
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Integer(_) => "integer",
            Value::Float(_) => "float",
            Value::Boolean(_) => "boolean",
            Value::Datetime(_) => "datetime",
            Value::Array(_) => "array",
            Value::Table(_) => "table",
        }
    }
}

/// Parse `text` (already added to `sources` as `source`) into a tree.
pub fn parse(sources: &Sources, source: usize) -> Result<Node, Problem> {
    let text = sources.text(source);
    match DeTable::parse(text) {
        Ok(table) => convert_table(table, source),
        Err(err) => {
            let span = err.span().unwrap_or(0..0);
            Err(Problem::new("", "this is not valid TOML")
                .label(err.message().trim().to_string())
                .at(Some(Origin { source, span })))
        }
    }
}

/// Parse one TOML value written on the command line, e.g. `[1, 10]`, `"x"`
/// or `{ kind = "fixed", ms = 40 }`; spaces around it are ignored, as in
/// `key = value`. A bare word that is not TOML (`--set scenario.name=fast`)
/// is taken as a string; anything else that does not parse is an error
/// pointing at the character where TOML stopped.
pub fn parse_value(
    sources: &Sources,
    source: usize,
    span: std::ops::Range<usize>,
) -> Result<Node, Problem> {
    let raw = &sources.text(source)[span.clone()];
    let lead = raw.len() - raw.trim_start().len();
    let text = raw.trim();
    let span = span.start + lead..span.start + lead + text.len();
    let origin = Origin { source, span };
    let string = || Node {
        value: Value::String(text.to_string()),
        origin: origin.clone(),
    };
    match DeValue::parse(text) {
        Ok(value) => {
            let mut node = convert(value, source).unwrap_or_else(|_| string());
            shift(&mut node, origin.span.start);
            node.origin = origin;
            Ok(node)
        }
        Err(_) if is_bare_word(text) => Ok(string()),
        Err(e) => {
            let at = e.span().map_or(origin.span.clone(), |r| {
                origin.span.start + r.start..origin.span.start + r.end.max(r.start + 1)
            });
            let reason = e.message().lines().next().unwrap_or("invalid value").trim();
            Err(
                Problem::new("", format!("`{text}` is not a TOML value: {reason}"))
                    .at(Some(Origin { source, span: at }))
                    .label("here")
                    .note(
                        "write a number (200), a quoted string (\"fast\"), a list ([1, 10]) \
                     or an inline table ({ kind = \"fixed\", ms = 40 }); a bare word \
                     without spaces or brackets is taken as a string",
                    ),
            )
        }
    }
}

/// A word without spaces, quotes, brackets or braces: taken as a string.
fn is_bare_word(text: &str) -> bool {
    !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || "\"'[]{}=,#".contains(c))
}

fn shift(node: &mut Node, by: usize) {
    node.origin.span = node.origin.span.start + by..node.origin.span.end + by;
    match &mut node.value {
        Value::Array(items) => items.iter_mut().for_each(|n| shift(n, by)),
        Value::Table(entries) => {
            for entry in entries.values_mut() {
                entry.key.span = entry.key.span.start + by..entry.key.span.end + by;
                shift(&mut entry.node, by);
            }
        }
        _ => {}
    }
}

fn convert_table(table: Spanned<DeTable<'_>>, source: usize) -> Result<Node, Problem> {
    let span = table.span();
    let mut entries = IndexMap::new();
    for (key, value) in table.into_inner() {
        let key_origin = Origin {
            source,
            span: key.span(),
        };
        entries.insert(
            key.into_inner().into_owned(),
            Entry {
                key: key_origin,
                node: convert(value, source)?,
            },
        );
    }
    Ok(Node {
        value: Value::Table(entries),
        origin: Origin { source, span },
    })
}

fn convert(value: Spanned<DeValue<'_>>, source: usize) -> Result<Node, Problem> {
    let span = value.span();
    let origin = Origin { source, span };
    let bad_number = |text: &str| {
        Problem::new("", format!("`{text}` is not a number this tool can read"))
            .at(Some(origin.clone()))
    };
    let value = match value.into_inner() {
        DeValue::String(s) => Value::String(s.into_owned()),
        DeValue::Integer(i) => Value::Integer(
            i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
                .map_err(|_| bad_number(i.as_str()))?,
        ),
        DeValue::Float(f) => {
            let text = f.as_str().replace('_', "");
            Value::Float(text.parse().map_err(|_| bad_number(&text))?)
        }
        DeValue::Boolean(b) => Value::Boolean(b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| convert(item, source))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(table) => {
            return convert_table(Spanned::new(origin.span.clone(), table), source);
        }
    };
    Ok(Node { value, origin })
}

impl Node {
    #[cfg(test)]
    pub fn as_table(&self) -> Option<&IndexMap<String, Entry>> {
        match &self.value {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The node at `path`, if there is one.
    pub fn get(&self, path: &KeyPath) -> Option<&Node> {
        let mut node = self;
        for seg in &path.0 {
            node = match (seg, &node.value) {
                (Seg::Key(k), Value::Table(t)) => &t.get(k)?.node,
                (Seg::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The origin to show for `path`: the key itself when `key` is set
    /// (for "unknown key"), else its value; falls back to the nearest parent.
    pub fn origin_of(&self, path: &KeyPath, key: bool) -> Option<Origin> {
        let mut node = self;
        let mut best = Some(self.origin.clone());
        for seg in &path.0 {
            match (seg, &node.value) {
                (Seg::Key(k), Value::Table(t)) => match t.get(k) {
                    Some(entry) => {
                        best = Some(if key {
                            entry.key.clone()
                        } else {
                            entry.node.origin.clone()
                        });
                        node = &entry.node;
                    }
                    None => return best,
                },
                (Seg::Index(i), Value::Array(a)) => match a.get(*i) {
                    Some(n) => {
                        best = Some(n.origin.clone());
                        node = n;
                    }
                    None => return best,
                },
                _ => return best,
            }
        }
        best
    }

    /// Remove the value at `path`; returns whether something was removed.
    pub fn remove(&mut self, path: &KeyPath) -> bool {
        let Some((last, parents)) = path.0.split_last() else {
            return false;
        };
        let mut node = self;
        for seg in parents {
            node = match (seg, &mut node.value) {
                (Seg::Key(k), Value::Table(t)) => match t.get_mut(k) {
                    Some(entry) => &mut entry.node,
                    None => return false,
                },
                (Seg::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                    Some(n) => n,
                    None => return false,
                },
                _ => return false,
            };
        }
        match (last, &mut node.value) {
            (Seg::Key(k), Value::Table(t)) => t.shift_remove(k).is_some(),
            (Seg::Index(i), Value::Array(a)) if *i < a.len() => {
                a.remove(*i);
                true
            }
            _ => false,
        }
    }

    /// Put `value` at `path` (tables only), creating tables on the way.
    pub fn set(&mut self, path: &KeyPath, value: Node, key_origin: Origin) -> Result<(), String> {
        let mut node = self;
        for (i, seg) in path.0.iter().enumerate() {
            let Seg::Key(k) = seg else {
                return Err("--set takes table keys, not array indices".into());
            };
            let here = KeyPath(path.0[..i].to_vec());
            let Value::Table(table) = &mut node.value else {
                return Err(format!("`{here}` is not a table"));
            };
            if i + 1 == path.0.len() {
                table.insert(
                    k.clone(),
                    Entry {
                        key: key_origin,
                        node: value,
                    },
                );
                return Ok(());
            }
            let entry = table.entry(k.clone()).or_insert_with(|| Entry {
                key: key_origin.clone(),
                node: Node {
                    value: Value::Table(IndexMap::new()),
                    origin: value.origin.clone(),
                },
            });
            node = &mut entry.node;
        }
        Ok(())
    }
}

/// Merge `over` onto `base`: tables merge key by key, anything else replaces.
pub fn merge(base: Node, over: Node) -> Node {
    match (base.value, over.value) {
        (Value::Table(mut base_entries), Value::Table(over_entries)) => {
            for (key, entry) in over_entries {
                let merged = match base_entries.shift_remove(&key) {
                    Some(old) => Entry {
                        key: entry.key,
                        node: merge(old.node, entry.node),
                    },
                    None => entry,
                };
                base_entries.insert(key, merged);
            }
            Node {
                value: Value::Table(base_entries),
                origin: over.origin,
            }
        }
        (_, value) => Node {
            value,
            origin: over.origin,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> (Sources, Node) {
        let mut sources = Sources::default();
        let id = sources.add("t.toml", text);
        let node = parse(&sources, id).unwrap();
        (sources, node)
    }

    #[test]
    fn key_paths_round_trip() {
        let path = KeyPath::parse("load.concurrency[2].x").unwrap();
        assert_eq!(path.to_string(), "load.concurrency[2].x");
        assert!(KeyPath::parse("a..b").is_none());
        assert!(KeyPath::parse("a[x]").is_none());
    }

    #[test]
    fn values_keep_their_origin() {
        let (sources, node) = tree("[load]\nconcurrency = [1, 10]\n");
        let path = KeyPath::parse("load.concurrency[1]").unwrap();
        let origin = node.origin_of(&path, false).unwrap();
        assert_eq!(sources.locate(&origin), "t.toml:2:19");
        let key = node
            .origin_of(&KeyPath::parse("load.concurrency").unwrap(), true)
            .unwrap();
        assert_eq!(sources.locate(&key), "t.toml:2:1");
    }

    #[test]
    fn merge_tables_by_key_and_replace_arrays() {
        let (_, base) = tree("[load]\nconcurrency = [1, 2]\nrequests = 5\n");
        let (_, over) = tree("[load]\nconcurrency = [7]\n");
        let merged = merge(base, over);
        let load = merged.get(&KeyPath::parse("load").unwrap()).unwrap();
        let table = load.as_table().unwrap();
        assert!(matches!(table["requests"].node.value, Value::Integer(5)));
        match &table["concurrency"].node.value {
            Value::Array(items) => assert_eq!(items.len(), 1),
            other => panic!("expected array, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_point_at_the_text() {
        let mut sources = Sources::default();
        let id = sources.add("bad.toml", "[load]\nrequests = = 3\n");
        let problem = parse(&sources, id).unwrap_err();
        let origin = problem.origin.unwrap();
        assert!(sources.locate(&origin).starts_with("bad.toml:2:"));
    }
}
