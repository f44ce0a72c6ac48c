//! Unit tests of reply selection.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::{Prompt, Script};

const SCRIPT: &str = r#"
default: plain
replies:
  - name: plain
    text: plain
  - name: rm
    when: { last_user_contains: "delete", model: gpt }
    text: rm
  - name: after
    when: { after_tool_result: true }
    text: after
"#;

fn prompt(model: &str, last_user_text: &str, after_tool_result: bool) -> Prompt {
    Prompt {
        model: model.to_owned(),
        last_user_text: last_user_text.to_owned(),
        after_tool_result,
        chars: 0,
        max_tokens: None,
    }
}

fn chosen(p: &Prompt) -> String {
    Script::from_yaml(SCRIPT)
        .unwrap()
        .select(p)
        .unwrap()
        .name
        .clone()
}

#[test]
fn every_condition_given_must_hold() {
    assert_eq!(chosen(&prompt("gpt", "please delete x", false)), "rm");
    assert_eq!(chosen(&prompt("claude", "please delete x", false)), "plain");
    assert_eq!(chosen(&prompt("gpt", "please keep x", false)), "plain");
}

#[test]
fn substring_match_is_case_sensitive() {
    assert_eq!(chosen(&prompt("gpt", "DELETE", false)), "plain");
}

#[test]
fn replies_are_tried_in_order_and_fall_back_to_default() {
    // `rm` comes before `after` in the script, so it wins when both hold.
    assert_eq!(chosen(&prompt("gpt", "delete", true)), "rm");
    assert_eq!(chosen(&prompt("x", "", true)), "after");
    assert_eq!(chosen(&prompt("x", "", false)), "plain");
}

#[test]
fn without_default_the_first_unconditional_reply_is_the_fallback() {
    let script = Script::from_yaml(
        "replies:\n  - name: a\n    when: { model: m }\n    text: a\n  - name: b\n    text: b\n  - name: c\n    text: c\n",
    )
    .unwrap();
    assert_eq!(script.fallback().unwrap().name, "b");
    assert_eq!(script.select(&prompt("z", "", false)).unwrap().name, "b");
}
