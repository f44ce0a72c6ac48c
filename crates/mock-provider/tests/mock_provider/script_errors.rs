//! Script loading: every mistake is refused with the line, column and field at fault, and every
//! shipped example script loads.

use warden_mock_provider::{Fault, Finish, MockError, Script};

fn error(yaml: &str) -> MockError {
    Script::from_yaml(yaml).unwrap_err()
}

/// (line, field) of an `Invalid` error; panics on other errors.
fn located(e: &MockError) -> (u64, &str) {
    match e {
        MockError::Invalid { line, field, .. } => (*line, field.as_str()),
        other => panic!("expected an invalid-field error, got {other:?}"),
    }
}

#[test]
fn unknown_top_level_field_is_rejected_with_its_line() {
    let e = error("replies:\n  - name: a\n    text: hi\nreplys: []\n");
    let MockError::Yaml { line, message, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*line, 4, "{e}");
    assert!(message.contains("replys"), "{e}");
}

#[test]
fn unknown_reply_field_is_rejected_with_its_line() {
    let e = error("replies:\n  - name: a\n    txt: hi\n");
    let MockError::Yaml { line, message, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*line, 3, "{e}");
    assert!(message.contains("txt"), "{e}");
}

#[test]
fn unknown_fault_field_is_rejected() {
    let e = error("replies:\n  - name: a\n    text: hi\n    fault: { status: 500, retry: 2 }\n");
    assert!(matches!(e, MockError::Yaml { line: 4, .. }), "{e}");
}

#[test]
fn wrong_type_is_a_located_yaml_error() {
    let e = error("replies:\n  - name: a\n    text: hi\n    delay_ms: soon\n");
    assert!(matches!(e, MockError::Yaml { line: 4, .. }), "{e}");
}

#[test]
fn duplicate_reply_names_point_at_the_second() {
    let e = error("replies:\n  - name: a\n    text: x\n  - name: a\n    text: y\n");
    assert_eq!(located(&e), (4, "replies[1].name"), "{e}");
    assert!(e.to_string().contains("duplicate reply name `a`"), "{e}");
}

#[test]
fn default_must_name_a_reply() {
    let e = error("default: nope\nreplies:\n  - name: a\n    text: x\n");
    assert_eq!(located(&e), (1, "default"), "{e}");
}

#[test]
fn a_script_needs_a_fallback() {
    let e = error("replies:\n  - name: a\n    when: { model: m }\n    text: x\n");
    assert_eq!(located(&e).1, "default", "{e}");
}

#[test]
fn empty_replies_are_refused() {
    let e = error("replies: []\n");
    assert_eq!(located(&e), (1, "replies"), "{e}");
}

#[test]
fn a_reply_needs_something_to_say() {
    let e = error("replies:\n  - name: a\n    chunk_size: 3\n");
    assert_eq!(located(&e), (2, "replies[0]"), "{e}");
}

#[test]
fn chunk_size_must_be_positive() {
    let e = error("replies:\n  - name: a\n    text: x\n    chunk_size: 0\n");
    assert_eq!(located(&e), (4, "replies[0].chunk_size"), "{e}");
}

#[test]
fn arguments_must_be_a_mapping() {
    let e = error(
        "replies:\n  - name: a\n    tool_calls:\n      - name: f\n        arguments: [1, 2]\n",
    );
    assert_eq!(
        located(&e),
        (5, "replies[0].tool_calls[0].arguments"),
        "{e}"
    );
}

#[test]
fn faults_are_checked() {
    let two = error(
        "replies:\n  - name: a\n    text: x\n    fault: { status: 500, reset_mid_stream: 1 }\n",
    );
    assert_eq!(located(&two), (4, "replies[0].fault"), "{two}");
    let ok_status = error("replies:\n  - name: a\n    fault: { status: 200 }\n");
    assert_eq!(
        located(&ok_status),
        (3, "replies[0].fault.status"),
        "{ok_status}"
    );
    let no_call =
        error("replies:\n  - name: a\n    text: x\n    fault: { truncate_tool_call: true }\n");
    assert_eq!(
        located(&no_call).1,
        "replies[0].fault.truncate_tool_call",
        "{no_call}"
    );
    let empty = error("replies:\n  - name: a\n    text: x\n    fault: {}\n");
    assert_eq!(located(&empty).1, "replies[0].fault", "{empty}");
}

#[test]
fn empty_condition_is_refused() {
    let e = error("replies:\n  - name: a\n    text: x\n  - name: b\n    when: {}\n    text: y\n");
    assert_eq!(located(&e), (5, "replies[1].when"), "{e}");
}

#[test]
fn syntax_errors_are_located() {
    let e = error("replies:\n  - name: a\n    text: \"unterminated\n");
    assert!(
        matches!(e, MockError::Yaml { line, .. } if line >= 3),
        "{e}"
    );
}

#[test]
fn a_full_reply_loads_as_written() {
    let script = Script::from_yaml(
        "api_key: k\nmodels: [m1]\ndefault: b\nreplies:\n  - name: a\n    when: { last_user_contains: rm, after_tool_result: false }\n    tool_calls:\n      - name: bash\n        arguments: { command: ls }\n    chunk_size: 3\n    delay_ms: 5\n    chunk_delay_ms: 7\n    usage: { input_tokens: 1, output_tokens: 2 }\n    finish: length\n    fault: { malformed_sse: 4 }\n  - name: b\n    fault: { status: 503 }\n",
    )
    .unwrap();
    assert_eq!(script.api_key(), Some("k"));
    assert_eq!(script.models(), ["m1".to_owned()]);
    assert_eq!(script.fallback().unwrap().name, "b");
    let a = script.reply("a").unwrap();
    assert_eq!(
        a.tool_calls[0].arguments,
        serde_json::json!({"command": "ls"})
    );
    assert_eq!(a.chunk_size, 3);
    assert_eq!(a.delay.as_millis(), 5);
    assert_eq!(a.chunk_delay.as_millis(), 7);
    assert_eq!(a.finish, Some(Finish::Length));
    assert_eq!(a.fault, Some(Fault::MalformedSse(4)));
    assert_eq!(
        a.when.as_ref().unwrap().last_user_contains.as_deref(),
        Some("rm")
    );
    assert_eq!(script.reply("b").unwrap().fault, Some(Fault::Status(503)));
}

#[test]
fn every_example_script_loads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mock-provider");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&path).unwrap();
            Script::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            loaded += 1;
        }
    }
    assert!(loaded >= 1, "no example script in {}", dir.display());
}
