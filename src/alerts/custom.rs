//! Custom guest rules (spec/alerts.md §5.2): filter stacks that pick thresholds for matching
//! guests. The highest-priority enabled rule that matches wins; per-guest overrides still
//! apply on top. Rules are stored as sent (unknown fields kept) and parsed once per write.

use super::config::{Errors, ThresholdConfig};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomRule {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub filter_conditions: FilterStack,
    #[serde(default)]
    pub thresholds: ThresholdConfig,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FilterStack {
    #[serde(default)]
    pub filters: Vec<Filter>,
    #[serde(default)]
    pub logical_operator: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub operator: String,
    #[serde(default)]
    pub value: serde_json::Value,
    #[serde(default)]
    pub raw_text: String,
}

/// What a filter can look at for one guest.
pub struct GuestFacts<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub node: &'a str,
    pub status: &'a str,
    pub vmid: u32,
    /// Metric values in alert units (%, MB/s), by lower-case name.
    pub metric: &'a dyn Fn(&str) -> Option<f64>,
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

impl Filter {
    fn matches(&self, g: &GuestFacts) -> bool {
        match self.kind.as_str() {
            "metric" => {
                let (Some(v), Some(want)) = (
                    (g.metric)(&self.field.to_ascii_lowercase()),
                    self.value
                        .as_f64()
                        .or_else(|| self.value.as_str().and_then(|s| s.trim().parse().ok())),
                ) else {
                    return false;
                };
                match self.operator.as_str() {
                    ">" => v > want,
                    "<" => v < want,
                    ">=" => v >= want,
                    "<=" => v <= want,
                    "=" | "==" => (v - want).abs() <= 0.5,
                    _ => false,
                }
            }
            "text" => {
                let want = match &self.value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match self.field.as_str() {
                    "name" => contains_ci(g.name, &want),
                    "node" => contains_ci(g.node, &want),
                    "vmid" => g.vmid.to_string().contains(&want),
                    _ => false,
                }
            }
            "raw" => {
                let t = self.raw_text.trim();
                [g.name, g.id, g.node, g.status]
                    .iter()
                    .any(|h| contains_ci(h, t))
            }
            _ => false,
        }
    }
}

impl CustomRule {
    pub fn matches(&self, g: &GuestFacts) -> bool {
        let f = &self.filter_conditions.filters;
        if f.is_empty() {
            return true;
        }
        if self.filter_conditions.logical_operator == "AND" {
            f.iter().all(|x| x.matches(g))
        } else {
            f.iter().any(|x| x.matches(g))
        }
    }
}

/// Parses the stored rules, enabled ones by descending priority; problems name the rule.
pub fn parse(raw: &[serde_json::Value], margin: f64, errs: &mut Errors) -> Vec<CustomRule> {
    let mut out = Vec::new();
    for (i, v) in raw.iter().enumerate() {
        match serde_json::from_value::<CustomRule>(v.clone()) {
            Ok(mut r) => {
                r.thresholds
                    .normalize(&format!("customRules[{i}].thresholds"), margin, errs);
                if r.enabled {
                    out.push(r);
                }
            }
            Err(e) => errs.push((format!("customRules[{i}]"), e.to_string())),
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.priority));
    out
}

/// The thresholds of the first (highest-priority) matching rule.
pub fn pick<'r>(rules: &'r [CustomRule], g: &GuestFacts) -> Option<&'r ThresholdConfig> {
    rules.iter().find(|r| r.matches(g)).map(|r| &r.thresholds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_priority() {
        let raw = vec![
            serde_json::json!({"id":"low","priority":1,"enabled":true,
                "filterConditions":{"filters":[{"type":"text","field":"name","value":"DB"}],"logicalOperator":"AND"},
                "thresholds":{"cpu":{"trigger":60,"clear":50}}}),
            serde_json::json!({"id":"high","priority":9,"enabled":true,
                "filterConditions":{"filters":[
                    {"type":"metric","field":"memory","operator":">=","value":50},
                    {"type":"raw","rawText":"PROD"}],"logicalOperator":"AND"},
                "thresholds":{"cpu":{"trigger":95,"clear":90}}}),
            serde_json::json!({"id":"off","priority":99,"enabled":false,
                "thresholds":{"cpu":{"trigger":1,"clear":0}}}),
        ];
        let mut errs = Errors::new();
        let rules = parse(&raw, 5.0, &mut errs);
        assert!(errs.is_empty());
        assert_eq!(rules.len(), 2);
        let metric = |m: &str| (m == "memory").then_some(70.0);
        let g = GuestFacts {
            id: "pve-101",
            name: "prod-db-1",
            node: "n1",
            status: "running",
            vmid: 101,
            metric: &metric,
        };
        assert_eq!(pick(&rules, &g).unwrap().cpu.unwrap().trigger, 95.0);
        let low_mem = |_: &str| Some(10.0);
        let g2 = GuestFacts {
            metric: &low_mem,
            ..g
        };
        assert_eq!(pick(&rules, &g2).unwrap().cpu.unwrap().trigger, 60.0);
        let g3 = GuestFacts {
            name: "web",
            metric: &low_mem,
            ..g2
        };
        assert!(pick(&rules, &g3).is_none());
        let mut errs = Errors::new();
        parse(&[serde_json::json!({"priority":"high"})], 5.0, &mut errs);
        assert_eq!(errs[0].0, "customRules[0]");
    }
}
