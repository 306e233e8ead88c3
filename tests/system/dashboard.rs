//! The Grafana dashboard (dashboards/raumwart.json): every query is valid PromQL
//! (promtool) and asks only for metrics the README documents.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn repo(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
}

/// Every `raumwart_...` name in `text`, histogram series reduced to the histogram.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("raumwart_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let name = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        names.insert(name.to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn dashboard_queries_are_valid_and_documented() {
    let dashboard: serde_json::Value = serde_json::from_str(&repo("dashboards/raumwart.json"))
        .expect("dashboards/raumwart.json is JSON");
    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    let mut exprs = vec![];
    for panel in panels {
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "panel ids repeat"
        );
        for target in panel["targets"].as_array().unwrap() {
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{panel}");
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    assert!(exprs.len() >= 10, "{exprs:?}");

    // Documented: the README's metrics table names every metric asked for.
    let readme = repo("README.md");
    let table = readme.split("### Metrics").nth(1).unwrap();
    let documented = metric_names(table.split("\n### ").next().unwrap());
    // Exported: every metric asked for (and documented) is one raumwart registers.
    let metrics = raumwart::metrics::Metrics::new();
    let exported: BTreeSet<String> = metrics.names().iter().cloned().collect();
    for name in metric_names(&exprs.join("\n")) {
        assert!(documented.contains(&name), "{name} is not in the README");
        assert!(
            exported.contains(&name),
            "{name} is not exported: {exported:?}"
        );
    }
    for name in &documented {
        assert!(
            exported.contains(name),
            "the README documents {name}, not exported"
        );
    }

    // Valid PromQL: promtool checks them as recording rules, with Grafana's variables
    // given values.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "5m")
            .replace("$school", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {}\n",
            serde_json::Value::String(expr)
        ));
    }
    let file = std::env::temp_dir().join(format!("raumwart-dashboard-{}.yml", std::process::id()));
    std::fs::write(&file, rules).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool (Debian's prometheus package) is installed");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
