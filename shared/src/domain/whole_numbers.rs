//! Whole numbers written with a fraction (`266.0`): JSON Schema counts
//! them integers, so a client may send one where the document says
//! `integer`, while serde's integer types refuse them.

use serde_json::{Number, Value};

/// Turns every whole float in `value` into the integer it is, in place
/// (exactly representable ones only: below 2^53); how many it turned.
pub fn as_integers(value: &mut Value) -> usize {
    match value {
        Value::Number(n) => {
            let whole = n
                .as_f64()
                .filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() < 2f64.powi(53));
            match whole {
                Some(f) => {
                    *n = Number::from(f as i64);
                    1
                }
                None => 0,
            }
        }
        Value::Array(items) => items.iter_mut().map(as_integers).sum(),
        Value::Object(map) => map.values_mut().map(as_integers).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_whole_floats_become_integers() {
        let mut value = json!({"days": 266.0, "nested": [-40.0, 7, 7.5, "8.0"], "huge": 1e300});
        assert_eq!(as_integers(&mut value), 2);
        assert_eq!(
            value,
            json!({"days": 266, "nested": [-40, 7, 7.5, "8.0"], "huge": 1e300})
        );
        assert!(value["days"].is_i64() || value["days"].is_u64());
    }
}
