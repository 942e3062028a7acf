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

/// `order(1)` with every object's members in another order than the
/// schema's: tel's validator walks members in the schema's order quickest.
pub fn shuffled_order() -> Value {
    json!({ "items": [
        { "quantity": 2, "sku": "A", "price": 12.5 }, { "price": 1.25, "quantity": 4, "sku": "B" }, { "quantity": 1, "price": 3.0, "sku": "C" }
    ], "orderId": "o-1" })
}

pub fn invalid_order() -> Value {
    json!({ "orderId": "", "items": [{ "sku": 5, "price": -1, "quantity": 0 }] })
}
