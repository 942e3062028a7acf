//! The benchmark workload: a small order-total task, its schema and instances.
//! Shared by `tel-bench`, `cargo bench` and the ajv comparison.

use serde_json::{Value, json};

pub const SOURCE: &str = "export default (order) => {\n  const subtotal = order.items.reduce((s, i) => s + i.price * i.quantity, 0);\n  return { orderId: order.orderId, total: subtotal };\n}";

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "required": ["orderId", "items"],
        "properties": {
            "orderId": { "type": "string", "minLength": 1 },
            "items": { "type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["sku", "price", "quantity"],
                "properties": { "sku": { "type": "string" }, "price": { "type": "number", "minimum": 0 }, "quantity": { "type": "integer", "minimum": 1 } }
            } }
        }
    })
}

pub fn definition() -> Value {
    json!({
        "name": "bench-order", "type": "automated",
        "implementation": { "kind": "javascript", "source": SOURCE },
        "inputSchema": input_schema(),
        "outputSchema": { "type": "object", "required": ["orderId", "total"], "properties": { "total": { "type": "number" } } }
    })
}

pub fn order(i: usize) -> Value {
    json!({ "orderId": format!("o-{i}"), "items": [
        { "sku": "A", "price": 12.5, "quantity": 2 }, { "sku": "B", "price": 1.25, "quantity": 4 }, { "sku": "C", "price": 3.0, "quantity": 1 }
    ] })
}

pub fn invalid_order() -> Value {
    json!({ "orderId": "", "items": [{ "sku": 5, "price": -1, "quantity": 0 }] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tel_core::domain::schema::CompiledSchema;

    /// The report the bench times: every error, in the `jsonschema` crate's
    /// order (which tel's own validator for plain schemas keeps).
    #[test]
    fn the_invalid_order_is_reported_field_by_field() {
        let schema = CompiledSchema::compile(&input_schema()).unwrap();
        assert!(schema.is_valid(&order(1)));
        let report: Vec<(String, String)> = schema
            .violations(&invalid_order())
            .into_iter()
            .map(|v| (v.instance_path, v.message))
            .collect();
        let expected = [
            ("/orderId", r#""" is shorter than 1 character"#),
            ("/items/0/sku", r#"5 is not of type "string""#),
            ("/items/0/price", "-1 is less than the minimum of 0"),
            ("/items/0/quantity", "0 is less than the minimum of 1"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(path, message)| (path.to_string(), message.to_string()))
            .collect();
        assert_eq!(report, expected);
    }
}
