//! AuthZEN Authorization API 1.0 requests, translated into Warden's `authzen` actions.
//!
//! Pure: JSON in, validated queries out, no I/O. A query is the AuthZEN 4-tuple (subject,
//! action, resource, context); a batch is the `evaluations` array with the top-level 4-tuple as
//! defaults, each key of an item replacing the default as a whole. Required fields are checked
//! (`subject.type`, `subject.id`, `action.name`, `resource.type`, `resource.id`); unknown fields
//! are ignored, as the standard asks.

use serde_json::{Map, Value};

/// One access question: the AuthZEN 4-tuple.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `subject`: who asks (`type`, `id`, optional `properties`).
    pub subject: Map<String, Value>,
    /// `action`: what they want to do (`name`, optional `properties`).
    pub action: Map<String, Value>,
    /// `resource`: what to (`type`, `id`, optional `properties`).
    pub resource: Map<String, Value>,
    /// `context`: the environment (free-form; empty when not sent).
    pub context: Map<String, Value>,
}

/// How a batch runs (`options.evaluations_semantic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Semantic {
    /// Every evaluation runs and is answered (the default).
    #[default]
    ExecuteAll,
    /// Evaluations run in order until the first denial, which is the last answer.
    DenyOnFirstDeny,
    /// Evaluations run in order until the first permit, which is the last answer.
    PermitOnFirstPermit,
}

impl Semantic {
    /// Whether a batch stops after an evaluation decided `decision`.
    pub fn stops_after(self, decision: bool) -> bool {
        match self {
            Semantic::ExecuteAll => false,
            Semantic::DenyOnFirstDeny => !decision,
            Semantic::PermitOnFirstPermit => decision,
        }
    }
}

/// A `POST /access/v1/evaluations` body.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The questions, defaults applied, in request order.
    pub queries: Vec<Query>,
    /// How they run.
    pub semantic: Semantic,
    /// Whether the body had an `evaluations` array (else it is answered like a single evaluation,
    /// `{"decision": …}`).
    pub boxcar: bool,
}

/// Why a request body cannot be evaluated (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is not JSON.
    #[error("the request body is not valid JSON: {0}")]
    NotJson(String),
    /// A required field is absent (its path, such as `evaluations[1].resource.id`).
    #[error("`{0}` is required")]
    Missing(String),
    /// A field has the wrong JSON type.
    #[error("`{field}` must be {expected}")]
    WrongType {
        /// The field's path.
        field: String,
        /// What it must be (`an object`, `a string`).
        expected: &'static str,
    },
    /// `options.evaluations_semantic` names no known semantic.
    #[error(
        "`options.evaluations_semantic` is `{0}`; expected execute_all, deny_on_first_deny or permit_on_first_permit"
    )]
    UnknownSemantic(String),
    /// The batch is larger than the configured limit.
    #[error("{count} evaluations in one request; the limit is {limit}")]
    TooMany {
        /// How many were sent.
        count: usize,
        /// The limit (`authzen.max_evaluations`).
        limit: usize,
    },
}

/// Parses a `POST /access/v1/evaluation` body.
pub fn parse_evaluation(body: &[u8]) -> Result<Query, RequestError> {
    let Value::Object(mut top) = parse_json(body)? else {
        return Err(not_an_object(""));
    };
    check(&Map::new(), &top, "")?;
    // Checked: each entity is there and an object, so it is moved out rather than copied.
    Ok(assemble(|key| top.remove(key)))
}

/// Parses a `POST /access/v1/evaluations` body holding at most `limit` evaluations.
pub fn parse_evaluations(body: &[u8], limit: usize) -> Result<Batch, RequestError> {
    let value = parse_json(body)?;
    let top = object(&value, "")?;
    let semantic = semantic(top)?;
    let items = match top.get("evaluations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(_) => {
            return Err(RequestError::WrongType {
                field: "evaluations".into(),
                expected: "an array",
            });
        }
    };
    if items.is_empty() {
        return Ok(Batch {
            queries: vec![query(&Map::new(), top, "")?],
            semantic,
            boxcar: false,
        });
    }
    if items.len() > limit {
        return Err(RequestError::TooMany {
            count: items.len(),
            limit,
        });
    }
    let queries = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("evaluations[{i}].");
            let item = object(item, at.trim_end_matches('.'))?;
            query(top, item, &at)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch {
        queries,
        semantic,
        boxcar: true,
    })
}

fn parse_json(body: &[u8]) -> Result<Value, RequestError> {
    serde_json::from_slice(body).map_err(|e| RequestError::NotJson(e.to_string()))
}

fn semantic(top: &Map<String, Value>) -> Result<Semantic, RequestError> {
    let Some(options) = top.get("options") else {
        return Ok(Semantic::default());
    };
    let options = object(options, "options")?;
    match options.get("evaluations_semantic") {
        None | Some(Value::Null) => Ok(Semantic::default()),
        Some(Value::String(s)) => match s.as_str() {
            "execute_all" => Ok(Semantic::ExecuteAll),
            "deny_on_first_deny" => Ok(Semantic::DenyOnFirstDeny),
            "permit_on_first_permit" => Ok(Semantic::PermitOnFirstPermit),
            other => Err(RequestError::UnknownSemantic(other.to_owned())),
        },
        Some(_) => Err(RequestError::WrongType {
            field: "options.evaluations_semantic".into(),
            expected: "a string",
        }),
    }
}

/// The 4-tuple of `item`, each key falling back to `defaults`; `at` prefixes error paths.
fn query(
    defaults: &Map<String, Value>,
    item: &Map<String, Value>,
    at: &str,
) -> Result<Query, RequestError> {
    check(defaults, item, at)?;
    Ok(assemble(|key| {
        item.get(key).or_else(|| defaults.get(key)).cloned()
    }))
}

/// A checked 4-tuple from `entity`, which gives each key's value; anything but an object (an
/// absent or null `context`) is empty.
fn assemble(mut entity: impl FnMut(&str) -> Option<Value>) -> Query {
    let mut map = |key: &str| match entity(key) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    Query {
        subject: map("subject"),
        action: map("action"),
        resource: map("resource"),
        context: map("context"),
    }
}

/// Checks the 4-tuple of `item`, each key falling back to `defaults`: the entities and their
/// required fields are there with the right types; `context`, when sent, is an object.
fn check(
    defaults: &Map<String, Value>,
    item: &Map<String, Value>,
    at: &str,
) -> Result<(), RequestError> {
    // The path of a field: the item's when the item sets the key, else the top level's.
    let pick = |key: &str| -> (Option<&Value>, String) {
        match item.get(key) {
            Some(v) => (Some(v), format!("{at}{key}")),
            None => (defaults.get(key), key.to_owned()),
        }
    };
    let entity = |key: &str, required: &[&str]| -> Result<(), RequestError> {
        let (value, path) = pick(key);
        let value = value.ok_or_else(|| RequestError::Missing(path.clone()))?;
        let map = object(value, &path)?;
        for field in required {
            match map.get(*field) {
                Some(Value::String(_)) => {}
                None | Some(Value::Null) => {
                    return Err(RequestError::Missing(format!("{path}.{field}")));
                }
                Some(_) => {
                    return Err(RequestError::WrongType {
                        field: format!("{path}.{field}"),
                        expected: "a string",
                    });
                }
            }
        }
        if let Some(props) = map.get("properties")
            && !props.is_object()
            && !props.is_null()
        {
            return Err(RequestError::WrongType {
                field: format!("{path}.properties"),
                expected: "an object",
            });
        }
        Ok(())
    };
    entity("subject", &["type", "id"])?;
    entity("action", &["name"])?;
    entity("resource", &["type", "id"])?;
    match pick("context") {
        (None | Some(Value::Null), _) => {}
        (Some(value), path) => {
            object(value, &path)?;
        }
    }
    Ok(())
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, RequestError> {
    value.as_object().ok_or_else(|| not_an_object(path))
}

fn not_an_object(path: &str) -> RequestError {
    RequestError::WrongType {
        field: if path.is_empty() {
            "the request body".into()
        } else {
            path.to_owned()
        },
        expected: "an object",
    }
}

impl Query {
    /// The action's name (`can_read`).
    pub fn action_name(&self) -> &str {
        self.action
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The 4-tuple as one JSON object: the `authzen` facts rules read and what the ledger keeps.
    pub fn into_json(self) -> Value {
        let mut m = Map::new();
        m.insert("subject".into(), Value::Object(self.subject));
        m.insert("action".into(), Value::Object(self.action));
        m.insert("resource".into(), Value::Object(self.resource));
        m.insert("context".into(), Value::Object(self.context));
        Value::Object(m)
    }

    /// The `authzen` action the policy judges, asked by `agent` (the calling enforcement point).
    /// Its `authzen` facts are [`Query::into_json`].
    pub fn into_action(self, agent: warden_policy::Agent) -> warden_policy::Action {
        warden_policy::Action {
            kind: warden_policy::ActionKind::Authzen,
            agent,
            tool: None,
            request: None,
            egress: None,
            authzen: Some(self.into_json()),
            history: Vec::new(),
            context: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use serde_json::json;

    fn single(v: Value) -> Result<Query, RequestError> {
        parse_evaluation(v.to_string().as_bytes())
    }

    fn batch(v: Value) -> Result<Batch, RequestError> {
        parse_evaluations(v.to_string().as_bytes(), 3)
    }

    fn tuple() -> Value {
        json!({
            "subject": {"type": "user", "id": "alice", "properties": {"dept": "eng"}},
            "action": {"name": "can_read"},
            "resource": {"type": "doc", "id": "1"},
        })
    }

    #[test]
    fn a_single_evaluation_becomes_authzen_facts_with_an_empty_context() {
        let q = single(tuple()).unwrap();
        assert_eq!(q.action_name(), "can_read");
        let action = q.clone().into_action(warden_policy::Agent::default());
        assert_eq!(action.kind, warden_policy::ActionKind::Authzen);
        let facts = action.authzen.unwrap();
        assert_eq!(facts["subject"]["properties"]["dept"], "eng");
        assert_eq!(facts["resource"]["id"], "1");
        assert_eq!(facts["context"], json!({}));
    }

    #[test]
    fn unknown_fields_are_kept_out_of_the_way_not_refused() {
        let mut v = tuple();
        v["extension"] = json!({"x": 1});
        v["subject"]["extra"] = json!(true);
        let q = single(v).unwrap();
        assert_eq!(q.subject["extra"], json!(true));
    }

    #[test]
    fn every_required_field_is_named_when_missing() {
        for (path, field) in [
            ("subject", "subject"),
            ("action", "action"),
            ("resource", "resource"),
        ] {
            let mut v = tuple();
            v.as_object_mut().unwrap().remove(path);
            assert_eq!(single(v), Err(RequestError::Missing(field.into())));
        }
        for (entity, field) in [
            ("subject", "type"),
            ("subject", "id"),
            ("action", "name"),
            ("resource", "type"),
            ("resource", "id"),
        ] {
            let mut v = tuple();
            v[entity].as_object_mut().unwrap().remove(field);
            assert_eq!(
                single(v),
                Err(RequestError::Missing(format!("{entity}.{field}")))
            );
        }
    }

    #[test]
    fn wrong_types_and_bad_json_are_refused_precisely() {
        let mut v = tuple();
        v["subject"]["id"] = json!(7);
        assert_eq!(
            single(v),
            Err(RequestError::WrongType {
                field: "subject.id".into(),
                expected: "a string"
            })
        );
        let mut v = tuple();
        v["context"] = json!("now");
        assert!(
            matches!(single(v), Err(RequestError::WrongType { field, .. }) if field == "context")
        );
        assert!(matches!(
            parse_evaluation(b"{\"subject\":"),
            Err(RequestError::NotJson(_))
        ));
        assert!(matches!(
            parse_evaluation(b"[1]"),
            Err(RequestError::WrongType { .. })
        ));
    }

    #[test]
    fn batch_items_override_the_top_level_defaults_key_by_key() {
        let b = batch(json!({
            "subject": {"type": "user", "id": "alice"},
            "action": {"name": "can_read"},
            "context": {"time": "t0"},
            "evaluations": [
                {"resource": {"type": "doc", "id": "1"}},
                {"action": {"name": "can_edit"}, "resource": {"type": "doc", "id": "2"},
                 "subject": {"type": "user", "id": "bob"}}
            ]
        }))
        .unwrap();
        assert!(b.boxcar);
        assert_eq!(b.semantic, Semantic::ExecuteAll);
        assert_eq!(b.queries.len(), 2);
        assert_eq!(b.queries[0].subject["id"], "alice");
        assert_eq!(b.queries[0].action_name(), "can_read");
        assert_eq!(b.queries[0].context["time"], "t0");
        assert_eq!(b.queries[1].subject["id"], "bob");
        assert_eq!(b.queries[1].action_name(), "can_edit");
        assert_eq!(b.queries[1].resource["id"], "2");
        assert_eq!(b.queries[1].context["time"], "t0");
    }

    #[test]
    fn a_batch_without_evaluations_is_one_evaluation() {
        let b = batch(tuple()).unwrap();
        assert!(!b.boxcar);
        assert_eq!(b.queries.len(), 1);
        let mut empty = tuple();
        empty["evaluations"] = json!([]);
        assert!(!batch(empty).unwrap().boxcar);
    }

    #[test]
    fn batch_errors_name_the_item() {
        let err = batch(json!({
            "subject": {"type": "user", "id": "alice"},
            "action": {"name": "can_read"},
            "evaluations": [{"resource": {"type": "doc", "id": "1"}}, {"resource": {"type": "doc"}}]
        }));
        assert_eq!(
            err,
            Err(RequestError::Missing("evaluations[1].resource.id".into()))
        );
        let err = batch(json!({"evaluations": [{"resource": {"type": "doc", "id": "1"}}]}));
        assert_eq!(err, Err(RequestError::Missing("subject".into())));
        let err = batch(json!({"evaluations": [1]}));
        assert!(
            matches!(err, Err(RequestError::WrongType { field, .. }) if field == "evaluations[0]")
        );
        let err = batch(json!({"evaluations": {"a": 1}}));
        assert!(
            matches!(err, Err(RequestError::WrongType { field, .. }) if field == "evaluations")
        );
    }

    #[test]
    fn semantics_are_read_and_unknown_ones_refused() {
        for (name, semantic) in [
            ("execute_all", Semantic::ExecuteAll),
            ("deny_on_first_deny", Semantic::DenyOnFirstDeny),
            ("permit_on_first_permit", Semantic::PermitOnFirstPermit),
        ] {
            let mut v = tuple();
            v["options"] = json!({"evaluations_semantic": name});
            assert_eq!(batch(v).unwrap().semantic, semantic);
        }
        let mut v = tuple();
        v["options"] = json!({"evaluations_semantic": "first"});
        assert_eq!(batch(v), Err(RequestError::UnknownSemantic("first".into())));
        assert!(Semantic::DenyOnFirstDeny.stops_after(false));
        assert!(!Semantic::DenyOnFirstDeny.stops_after(true));
        assert!(Semantic::PermitOnFirstPermit.stops_after(true));
        assert!(!Semantic::ExecuteAll.stops_after(false));
    }

    #[test]
    fn batches_over_the_limit_are_refused() {
        let item = json!({"resource": {"type": "doc", "id": "1"}});
        let mut v = tuple();
        v["evaluations"] = json!([item, item, item, item]);
        assert_eq!(batch(v), Err(RequestError::TooMany { count: 4, limit: 3 }));
    }
}
