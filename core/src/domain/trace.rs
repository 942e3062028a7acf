//! Trace context as the W3C `traceparent` header carries it, from what a
//! task keeps (a `traceparent`, or an AWS X-Ray header when the request came
//! with one), so the HTTP integration calls continue the same trace.

/// `trace` as a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`): as it
/// is when it is one already, converted from an X-Ray header
/// (`Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=1`); `None` otherwise.
pub fn traceparent(trace: &str) -> Option<String> {
    let hex = |s: &str, len: usize| s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit());
    let parts: Vec<&str> = trace.split('-').collect();
    if let [version, trace_id, parent, flags] = parts[..]
        && hex(version, 2)
        && hex(trace_id, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && version != "ff"
        && trace_id != "0".repeat(32)
        && parent != "0".repeat(16)
    {
        return Some(trace.to_ascii_lowercase());
    }
    let field = |name: &str| {
        trace
            .split(';')
            .find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='))
    };
    let root: Vec<&str> = field("Root")?.split('-').collect();
    let ["1", time, random] = root[..] else {
        return None;
    };
    let parent = field("Parent")?;
    if !(hex(time, 8) && hex(random, 24) && hex(parent, 16)) {
        return None;
    }
    let sampled = if field("Sampled") == Some("1") {
        "01"
    } else {
        "00"
    };
    Some(format!("00-{time}{random}-{parent}-{sampled}").to_ascii_lowercase())
}

/// `trace` as an AWS X-Ray trace header (`Root=1-<8 hex>-<24 hex>;Parent=<16
/// hex>;Sampled=<0|1>`), the form SQS carries as `AWSTraceHeader` and
/// Lambda continues: the same trace id in X-Ray's spelling.
pub fn xray_header(trace: &str) -> Option<String> {
    let w3c = traceparent(trace)?;
    let parts: Vec<&str> = w3c.split('-').collect();
    let [_, id, parent, flags] = parts[..] else {
        return None;
    };
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1;
    Some(format!(
        "Root=1-{}-{};Parent={parent};Sampled={sampled}",
        &id[..8],
        &id[8..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_reads_as_an_xray_header_and_back() {
        let w3c = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";
        let xray = xray_header(w3c).unwrap();
        assert_eq!(
            xray,
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        );
        assert_eq!(traceparent(&xray).as_deref(), Some(w3c));
        assert_eq!(xray_header("nonsense"), None);
    }

    #[test]
    fn a_w3c_traceparent_passes_and_an_xray_header_is_converted() {
        let w3c = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(traceparent(w3c).as_deref(), Some(w3c));
        assert_eq!(
            traceparent(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            )
            .as_deref(),
            Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
        );
        for not_one in [
            "",
            "hello",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
        ] {
            assert_eq!(traceparent(not_one), None, "{not_one}");
        }
    }
}
