//! The YAML emitter of batch certificates: any JSON value (or, for bytes that are not JSON, the
//! bytes as text in every position a string can take) is written as YAML, and an independent
//! YAML parser must read back the same value.
#![no_main]

use serde_json::{Value, json};
use yaml_rust2::{Yaml, YamlLoader};

fn same(json: &Value, yaml: &Yaml) -> bool {
    match (json, yaml) {
        (Value::Null, Yaml::Null) => true,
        (Value::Bool(a), Yaml::Boolean(b)) => a == b,
        (Value::Number(n), Yaml::Integer(i)) => n.to_string() == i.to_string(),
        (Value::Number(n), Yaml::Real(text)) => {
            text.parse::<f64>().ok() == n.as_f64() && !text.is_empty()
        }
        (Value::String(a), Yaml::String(b)) => a == b,
        (Value::Array(a), Yaml::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Object(a), Yaml::Hash(b)) => {
            a.len() == b.len()
                && a.iter().all(|(key, value)| {
                    b.get(&Yaml::String(key.clone()))
                        .is_some_and(|found| same(value, found))
                })
        }
        _ => false,
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let value = serde_json::from_slice::<Value>(data).unwrap_or_else(|_| {
        let text = String::from_utf8_lossy(data).into_owned();
        json!({
            "plain": text,
            "list": [text, {"nested": text}],
            text.clone(): {"as_key": true},
            "block": format!("{text}\nsecond line\n"),
        })
    });
    let mut document = String::new();
    palisade_service::yaml::write_document(&mut document, &value);
    let parsed = YamlLoader::load_from_str(&document)
        .unwrap_or_else(|error| panic!("not YAML ({error}):\n{document}"));
    let root = parsed.first().cloned().unwrap_or(Yaml::Null);
    assert!(
        same(&value, &root),
        "read back differently:\n{value}\n--- as YAML ---\n{document}--- read as ---\n{root:?}"
    );
});
