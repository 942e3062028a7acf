//! Reading `infra/template.yaml` so the local stack is built from the same
//! source as the deployed one. Resolves the intrinsics the template uses:
//! `!Ref`, `!GetAtt`, `!Sub` (short and long forms), and the conditions
//! (`!Equals`, `!Not`, `!And`, `!Or`) that leave optional resources out.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Number, Value};
use serde_yaml::Value as Yaml;

/// The template in this repository, compiled in.
pub const TEMPLATE_YAML: &str = include_str!("../../infra/template.yaml");

#[derive(Debug, Clone)]
pub struct Resource {
    pub logical_id: String,
    pub kind: String,
    /// The condition that must hold for the resource to exist.
    pub condition: Option<String>,
    pub properties: Yaml,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub parameters: BTreeMap<String, String>,
    pub conditions: BTreeMap<String, Yaml>,
    pub resources: Vec<Resource>,
}

/// What a reference can resolve to: the stack's pseudo parameters, its
/// parameters, and the physical ids and attributes of resources made so far.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub stack_name: String,
    pub region: String,
    pub parameters: BTreeMap<String, String>,
    /// Logical id → value of `!Ref`.
    pub refs: BTreeMap<String, String>,
    /// (logical id, attribute) → value of `!GetAtt`.
    pub attributes: BTreeMap<(String, String), String>,
}

/// Why a value could not be resolved yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unresolved {
    /// Refers to a resource not created yet: try again after it is.
    #[error("waits for {0}")]
    Pending(String),
    #[error("{0}")]
    Unsupported(String),
}

impl Template {
    pub fn embedded() -> Self {
        Self::parse(TEMPLATE_YAML).expect("infra/template.yaml parses")
    }

    pub fn parse(text: &str) -> Result<Self> {
        let doc: Yaml = serde_yaml::from_str(text).context("template is not YAML")?;
        let mut parameters = BTreeMap::new();
        if let Some(Yaml::Mapping(params)) = doc.get("Parameters") {
            for (name, decl) in params {
                let name = name.as_str().context("parameter name")?.to_owned();
                if let Some(default) = decl.get("Default") {
                    parameters.insert(
                        name,
                        scalar_text(default).context("parameter default must be a scalar")?,
                    );
                }
            }
        }
        let mut conditions = BTreeMap::new();
        if let Some(Yaml::Mapping(declared)) = doc.get("Conditions") {
            for (name, expression) in declared {
                let name = name.as_str().context("condition name")?.to_owned();
                conditions.insert(name, expression.clone());
            }
        }
        let Some(Yaml::Mapping(resources)) = doc.get("Resources") else {
            bail!("template has no Resources");
        };
        let resources = resources
            .iter()
            .map(|(id, decl)| {
                Ok(Resource {
                    logical_id: id.as_str().context("resource id")?.to_owned(),
                    kind: decl
                        .get("Type")
                        .and_then(Yaml::as_str)
                        .context("resource Type")?
                        .to_owned(),
                    condition: decl
                        .get("Condition")
                        .and_then(Yaml::as_str)
                        .map(str::to_owned),
                    properties: decl.get("Properties").cloned().unwrap_or(Yaml::Null),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            parameters,
            conditions,
            resources,
        })
    }

    /// Whether `resource` is part of a stack with these parameters: it has no
    /// condition, or its condition holds.
    pub fn includes(&self, resource: &Resource, names: &Names) -> Result<bool, Unresolved> {
        match &resource.condition {
            None => Ok(true),
            Some(name) => self.condition(name, names),
        }
    }

    fn condition(&self, name: &str, names: &Names) -> Result<bool, Unresolved> {
        let expression = self
            .conditions
            .get(name)
            .ok_or_else(|| Unresolved::Unsupported(format!("no condition named {name}")))?;
        self.holds(expression, names)
    }

    fn holds(&self, expression: &Yaml, names: &Names) -> Result<bool, Unresolved> {
        let unsupported = || Unresolved::Unsupported(format!("condition {expression:?}"));
        let (function, argument) = match expression {
            Yaml::Tagged(tagged) => (
                tagged.tag.to_string().trim_start_matches('!').to_owned(),
                &tagged.value,
            ),
            Yaml::Mapping(map) if map.len() == 1 => {
                let (key, value) = map.iter().next().ok_or_else(unsupported)?;
                let key = key.as_str().ok_or_else(unsupported)?;
                (key.trim_start_matches("Fn::").to_owned(), value)
            }
            _ => return Err(unsupported()),
        };
        let items = || argument.as_sequence().ok_or_else(unsupported);
        match function.as_str() {
            "Equals" => match items()?.as_slice() {
                [a, b] => Ok(names.resolve(a)? == names.resolve(b)?),
                _ => Err(unsupported()),
            },
            "Not" => match items()?.as_slice() {
                [inner] => Ok(!self.holds(inner, names)?),
                _ => Err(unsupported()),
            },
            "And" => items()?
                .iter()
                .try_fold(true, |all, c| Ok(all && self.holds(c, names)?)),
            "Or" => items()?
                .iter()
                .try_fold(false, |any, c| Ok(any || self.holds(c, names)?)),
            "Condition" => self.condition(argument.as_str().ok_or_else(unsupported)?, names),
            _ => Err(unsupported()),
        }
    }

    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.iter().filter(move |r| r.kind == kind)
    }
}

fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Names {
    fn reference(&self, name: &str) -> Result<String, Unresolved> {
        match name {
            "AWS::StackName" => Ok(self.stack_name.clone()),
            "AWS::Region" => Ok(self.region.clone()),
            "AWS::Partition" => Ok("aws".to_owned()),
            "AWS::URLSuffix" => Ok("amazonaws.com".to_owned()),
            "AWS::AccountId" => Err(Unresolved::Unsupported(
                "AWS::AccountId is not resolved locally (account ids differ between emulators)"
                    .into(),
            )),
            _ => self
                .parameters
                .get(name)
                .or_else(|| self.refs.get(name))
                .cloned()
                .ok_or_else(|| Unresolved::Pending(name.to_owned())),
        }
    }

    fn attribute(&self, id: &str, attribute: &str) -> Result<String, Unresolved> {
        self.attributes
            .get(&(id.to_owned(), attribute.to_owned()))
            .cloned()
            .ok_or_else(|| Unresolved::Pending(format!("{id}.{attribute}")))
    }

    fn substitute(&self, text: &str) -> Result<String, Unresolved> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| Unresolved::Unsupported(format!("unclosed ${{ in {text:?}")))?
                + start;
            let name = &rest[start + 2..end];
            let value = match name.split_once('.') {
                Some((id, attribute)) if !name.starts_with("AWS::") => {
                    self.attribute(id, attribute)?
                }
                _ => self.reference(name)?,
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Resolves every intrinsic in `value`, giving plain JSON.
    pub fn resolve(&self, value: &Yaml) -> Result<Value, Unresolved> {
        Ok(match value {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Number(n) => n
                .as_i64()
                .map(Value::from)
                .or_else(|| n.as_u64().map(Value::from))
                .or_else(|| n.as_f64().and_then(Number::from_f64).map(Value::Number))
                .unwrap_or(Value::Null),
            Yaml::String(s) => Value::String(s.clone()),
            Yaml::Sequence(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.resolve(i))
                    .collect::<Result<_, _>>()?,
            ),
            Yaml::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                self.intrinsic(tag.trim_start_matches('!'), &tagged.value)?
            }
            Yaml::Mapping(map) => {
                if map.len() == 1
                    && let Some((Yaml::String(key), inner)) = map.iter().next()
                    && let Some(function) =
                        key.strip_prefix("Fn::").or((key == "Ref").then_some("Ref"))
                {
                    return self.intrinsic(function, inner);
                }
                let mut out = Map::new();
                for (k, v) in map {
                    let key = scalar_text(k).ok_or_else(|| {
                        Unresolved::Unsupported("mapping keys must be scalars".into())
                    })?;
                    out.insert(key, self.resolve(v)?);
                }
                Value::Object(out)
            }
        })
    }

    /// `!Split [delimiter, text]`: a list (as a parameter that holds several
    /// values becomes one, e.g. an event pattern's list of sources).
    fn split(&self, argument: &Yaml) -> Result<Value, Unresolved> {
        let Yaml::Sequence(parts) = argument else {
            return Err(Unresolved::Unsupported(
                "Split takes [delimiter, text]".into(),
            ));
        };
        let (Some(delimiter), Some(text)) = (
            parts.first().and_then(Yaml::as_str),
            parts.get(1).map(|t| self.resolve(t)).transpose()?,
        ) else {
            return Err(Unresolved::Unsupported(
                "Split takes [delimiter, text]".into(),
            ));
        };
        let Value::String(text) = text else {
            return Err(Unresolved::Unsupported("Split splits text".into()));
        };
        Ok(Value::Array(
            text.split(delimiter)
                .map(|part| Value::String(part.to_owned()))
                .collect(),
        ))
    }

    fn intrinsic(&self, function: &str, argument: &Yaml) -> Result<Value, Unresolved> {
        let text = |v: &Yaml| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| Unresolved::Unsupported(format!("{function} takes a string")))
        };
        if function == "Split" {
            return self.split(argument);
        }
        Ok(Value::String(match function {
            "Ref" => self.reference(&text(argument)?)?,
            "GetAtt" => match argument {
                Yaml::String(s) => {
                    let (id, attribute) = s
                        .split_once('.')
                        .ok_or_else(|| Unresolved::Unsupported(format!("GetAtt {s}")))?;
                    self.attribute(id, attribute)?
                }
                Yaml::Sequence(parts) if parts.len() == 2 => {
                    self.attribute(&text(&parts[0])?, &text(&parts[1])?)?
                }
                _ => {
                    return Err(Unresolved::Unsupported(
                        "GetAtt takes Resource.Attribute".into(),
                    ));
                }
            },
            "Sub" => self.substitute(&text(argument)?)?,
            other => {
                return Err(Unresolved::Unsupported(format!(
                    "intrinsic function {other} is not supported locally"
                )));
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_template_parses_with_its_parameters() {
        let t = Template::embedded();
        assert!(t.parameters.contains_key("MaxReceiveCount"));
        assert_eq!(t.of_kind("AWS::DynamoDB::Table").count(), 1);
        assert!(t.of_kind("AWS::SQS::Queue").count() >= 8);
    }

    #[test]
    fn intrinsics_resolve_or_say_what_they_wait_for() {
        let names = Names {
            stack_name: "s1".into(),
            region: "us-east-1".into(),
            parameters: BTreeMap::from([("Count".into(), "3".into())]),
            refs: BTreeMap::new(),
            attributes: BTreeMap::from([(("Dlq".into(), "Arn".into()), "arn:dlq".into())]),
        };
        let doc: Yaml = serde_yaml::from_str(
            "a: !Sub '${AWS::StackName}-q'\nb: !GetAtt Dlq.Arn\nc: !Ref Count\nd: { 'Fn::Sub': 'x-${Dlq.Arn}' }\ne: [1, true]",
        )
        .unwrap();
        let resolved = names.resolve(&doc).unwrap();
        assert_eq!(
            resolved,
            serde_json::json!({ "a": "s1-q", "b": "arn:dlq", "c": "3", "d": "x-arn:dlq", "e": [1, true] })
        );
        let pending: Yaml = serde_yaml::from_str("!GetAtt Other.Arn").unwrap();
        assert_eq!(
            names.resolve(&pending),
            Err(Unresolved::Pending("Other.Arn".into()))
        );
    }

    #[test]
    fn conditions_leave_optional_resources_out_until_their_parameter_says() {
        let t = Template::parse(
            r#"
Parameters:
  Extra: { Type: String, Default: "false" }
  Mode: { Type: String, Default: "a" }
Conditions:
  WantsExtra: !Equals [!Ref Extra, "true"]
  NotModeB: { "Fn::Not": [{ "Fn::Equals": [{ Ref: Mode }, "b"] }] }
  Both: !And [!Condition WantsExtra, !Condition NotModeB]
  Either: !Or [!Condition WantsExtra, !Condition NotModeB]
Resources:
  Always: { Type: AWS::SQS::Queue }
  Optional: { Type: AWS::SQS::Queue, Condition: WantsExtra }
  Combined: { Type: AWS::SQS::Queue, Condition: Both }
  Any: { Type: AWS::SQS::Queue, Condition: Either }
"#,
        )
        .unwrap();
        let included = |overrides: &[(&str, &str)]| {
            let mut names = Names {
                parameters: t.parameters.clone(),
                ..Names::default()
            };
            for (k, v) in overrides {
                names.parameters.insert((*k).into(), (*v).into());
            }
            t.resources
                .iter()
                .filter(|r| t.includes(r, &names).unwrap())
                .map(|r| r.logical_id.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(included(&[]), ["Always", "Any"]);
        assert_eq!(
            included(&[("Extra", "true")]),
            ["Always", "Optional", "Combined", "Any"]
        );
        assert_eq!(
            included(&[("Extra", "true"), ("Mode", "b")]),
            ["Always", "Optional", "Any"]
        );
        assert_eq!(included(&[("Mode", "b")]), ["Always"]);
    }

    #[test]
    fn the_example_orchestrator_queue_is_opt_in() {
        let t = Template::embedded();
        let queue = t
            .resources
            .iter()
            .find(|r| r.logical_id == "OrchestratorQueue")
            .unwrap();
        let mut names = Names {
            parameters: t.parameters.clone(),
            ..Names::default()
        };
        assert!(!t.includes(queue, &names).unwrap());
        names
            .parameters
            .insert("ExampleOrchestratorQueue".into(), "true".into());
        assert!(t.includes(queue, &names).unwrap());
    }
}
