//! Stripe's form encoding: `a[b][0][c]=v` nests, `a[]=v` appends to a list.

use serde_json::{Map, Value};

use super::errors::ApiError;

/// `a[b][0]` as `["a", "b", "0"]`; `None` when the brackets are malformed.
fn segments(key: &str) -> Option<Vec<&str>> {
    let Some(open) = key.find('[') else {
        return Some(vec![key]);
    };
    let (base, mut rest) = key.split_at(open);
    if base.is_empty() {
        return None;
    }
    let mut out = vec![base];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        out.push(&inner[..close]);
        rest = &inner[close + 1..];
    }
    Some(out)
}

/// The nested parameters of a form's pairs.
pub fn nest(pairs: &[(String, String)]) -> Result<Map<String, Value>, ApiError> {
    let mut root = Map::new();
    for (key, value) in pairs {
        let segments = segments(key).ok_or_else(|| ApiError::unknown(key))?;
        insert(&mut root, &segments, value)
            .map_err(|()| ApiError::invalid(format!("Invalid hash: {key}")).param(key))?;
    }
    Ok(root)
}

fn insert(map: &mut Map<String, Value>, segments: &[&str], value: &str) -> Result<(), ()> {
    let Some((first, rest)) = segments.split_first() else {
        return Err(());
    };
    let leaf = Value::String(value.to_owned());
    match rest {
        [] => match map.get_mut(*first) {
            None => {
                map.insert((*first).to_owned(), leaf);
            }
            Some(existing @ Value::String(_)) => *existing = leaf,
            Some(_) => return Err(()),
        },
        [""] => match map
            .entry(*first)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(list) => list.push(leaf),
            _ => return Err(()),
        },
        ["", ..] => return Err(()),
        _ => match map
            .entry(*first)
            .or_insert_with(|| Value::Object(Map::new()))
        {
            Value::Object(child) => insert(child, rest, value)?,
            _ => return Err(()),
        },
    }
    Ok(())
}

/// A list parameter (`a[0]=…&a[1]=…` or `a[]=…`) as `(index, value)` in order; `None`
/// when it is not a list.
pub fn list(value: &Value) -> Option<Vec<(String, &Value)>> {
    match value {
        Value::Array(items) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
        ),
        Value::Object(map) => {
            let mut indexed = map
                .iter()
                .map(|(k, v)| k.parse::<usize>().ok().map(|i| (i, k.clone(), v)))
                .collect::<Option<Vec<_>>>()?;
            indexed.sort_by_key(|(i, _, _)| *i);
            Some(indexed.into_iter().map(|(_, k, v)| (k, v)).collect())
        }
        Value::String(s) if s.is_empty() => Some(Vec::new()),
        _ => None,
    }
}

/// A string parameter; refused when empty or not a string.
pub fn string(
    params: &Map<String, Value>,
    name: &str,
    param: &str,
) -> Result<Option<String>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Err(ApiError::empty(param)),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(
            ApiError::invalid(format!("Invalid string: {param} is a hash or a list")).param(param),
        ),
    }
}

pub fn integer(
    params: &Map<String, Value>,
    name: &str,
    param: &str,
) -> Result<Option<i64>, ApiError> {
    match string(params, name, param)? {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::not_an_integer(param, &text)),
    }
}

/// A hash parameter (`metadata[k]=v`); an empty string stands for an empty hash.
pub fn hash<'a>(
    params: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(_) => Err(ApiError::invalid(format!("Invalid hash: {name}")).param(name)),
    }
}
