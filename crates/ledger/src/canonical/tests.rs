//! Canonical JSON: RFC 8785 vectors, and the direct writer checked against the `Value` walker
//! (which sorts with `encode_utf16`, as the RFC states it) on arbitrary values and records.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

use super::*;
use crate::hash::Hash;
use crate::record::{
    Action, ActionKind, Actor, ApprovalNeed, Cost, Decision, Event, Outcome, Record,
};

fn canon(json: &str) -> String {
    let v: Value = serde_json::from_str(json).unwrap();
    String::from_utf8(canonicalize(&v).unwrap()).unwrap()
}

fn double(bits: u64) -> String {
    let mut s = String::new();
    write_double(f64::from_bits(bits), &mut s).unwrap();
    s
}

/// What the general path makes of `value`: serde_json's `Value`, then the sorting walker.
fn reference<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    via_value(value)
}

/// The direct writer alone (no fallback), for values it must handle itself.
fn direct<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    match serializer::write(value) {
        Ok(bytes) => bytes,
        Err(e) => panic!("the direct writer gave up: {e}"),
    }
}

/// RFC 8785 section 3.2.2 (the main example).
#[test]
fn rfc8785_main_example() {
    let input = r#"{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"#;
    assert_eq!(
        canon(input),
        r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
    );
}

/// RFC 8785 section 3.2.3 (sorting by UTF-16 code units).
#[test]
fn rfc8785_sorting_example() {
    let input = r#"{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
                \"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\
                \"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_eq!(canon(input), want);
}

/// RFC 8785 appendix B: IEEE-754 doubles and their canonical text.
#[test]
fn rfc8785_number_vectors() {
    let vectors: [(u64, &str); 22] = [
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
    ];
    for (bits, want) in vectors {
        assert_eq!(double(bits), want, "bits {bits:#018x}");
    }
    assert_eq!(double(0xbecbf647612f3696), "-0.0000033333333333333333");
    assert_eq!(double(0x43143ff3c1cb0959), "1424953923781206.2");
}

#[test]
fn non_finite_numbers_are_rejected() {
    let mut s = String::new();
    assert_eq!(
        write_double(f64::NAN, &mut s),
        Err(CanonicalError::NonFiniteNumber)
    );
    assert_eq!(
        write_double(f64::INFINITY, &mut s),
        Err(CanonicalError::NonFiniteNumber)
    );
}

#[test]
fn large_integers_follow_double_rounding() {
    assert_eq!(canon("18446744073709551615"), "18446744073709552000");
    assert_eq!(canon("-9007199254740993"), "-9007199254740992");
    assert_eq!(direct(&u64::MAX), b"18446744073709552000");
    assert_eq!(direct(&i64::MIN), b"-9223372036854776000");
    assert_eq!(direct(&(1u128 << 60)), b"1152921504606847000");
}

/// A record as the gateways write them, with every optional part present.
fn full_record() -> Record {
    Record {
        v: 1,
        seq: 41,
        time_ms: 1_700_000_000_123,
        prev: Hash([7u8; 32]),
        agent_prev: Some(Hash([9u8; 32])),
        actor: Actor {
            agent_id: Some("billing-bot".into()),
            tenant: Some("acme".into()),
            key_id: Some("wk_1".into()),
            run_id: Some("run-1".into()),
            trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
            principal: None,
        },
        bundle_digest: Some("sha256:5f1d".into()),
        event: Event::Decision(Box::new(Decision {
            outcome: Outcome::AllowWithConstraints,
            rule_ids: vec!["cap-spend".into()],
            reasons: vec!["Spending is capped \"per run\".".into()],
            action: Action {
                kind: ActionKind::ToolCall,
                tool: Some("refund".into()),
                args_digest: Some("sha256:00ff".into()),
                args_redacted: Some(json!({"amount": 12.5, "card": "[redacted]", "ids": [1, 2]})),
                upstream: Some("mcp:billing".into()),
                model: Some("gpt-4o".into()),
            },
            constraints: BTreeMap::from([
                ("max_cost_usd".to_owned(), json!(0.25)),
                ("read_only".to_owned(), json!(true)),
            ]),
            rewrite: Some(json!({"amount": 10})),
            approval: Some(ApprovalNeed {
                approvers: vec!["finance".into()],
                approval_id: Some("apr_1".into()),
                approved_by: None,
            }),
            cost: Some(Cost {
                projected_micro_usd: Some(250_000),
                actual_micro_usd: Some(1_234),
            }),
        })),
    }
}

/// The bytes the previous (Value-walking) implementation produced for `full_record`; records
/// already in ledgers were hashed over exactly this form.
const FULL_RECORD_BYTES: &str = concat!(
    r#"{"actor":{"agent_id":"billing-bot","key_id":"wk_1","run_id":"run-1","tenant":"acme","#,
    r#""trace_id":"0af7651916cd43dd8448eb211c80319c"},"#,
    r#""agent_prev":"0909090909090909090909090909090909090909090909090909090909090909","#,
    r#""bundle_digest":"sha256:5f1d","event":{"action":{"args_digest":"sha256:00ff","#,
    r#""args_redacted":{"amount":12.5,"card":"[redacted]","ids":[1,2]},"kind":"tool_call","#,
    r#""model":"gpt-4o","tool":"refund","upstream":"mcp:billing"},"#,
    r#""approval":{"approval_id":"apr_1","approvers":["finance"]},"#,
    r#""constraints":{"max_cost_usd":0.25,"read_only":true},"#,
    r#""cost":{"actual_micro_usd":1234,"projected_micro_usd":250000},"#,
    r#""outcome":"allow_with_constraints","reasons":["Spending is capped \"per run\"."],"#,
    r#""rewrite":{"amount":10},"rule_ids":["cap-spend"],"type":"decision"},"#,
    r#""prev":"0707070707070707070707070707070707070707070707070707070707070707","#,
    r#""seq":41,"time_ms":1700000000123,"v":1}"#,
);

#[test]
fn a_record_is_written_directly_in_its_established_form() {
    let record = full_record();
    assert_eq!(
        String::from_utf8(direct(&record)).unwrap(),
        FULL_RECORD_BYTES
    );
    assert_eq!(
        to_canonical_bytes(&record).unwrap(),
        reference(&record).unwrap()
    );
}

#[test]
fn every_ascii_character_is_escaped_correctly_at_every_position_of_a_word() {
    for c in (0u8..0x80).map(char::from).chain(['é', '\u{ffff}', '😀']) {
        for at in 0..17 {
            let mut s = "a".repeat(17);
            s.insert(at, c);
            let mut out = Vec::new();
            write_string(&s, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&s).unwrap(),
                "{c:?} at {at}"
            );
        }
    }
}

#[test]
fn utf16_order_puts_supplementary_characters_before_the_top_of_the_bmp() {
    // U+FB33 is above U+1F600 in code points but below it in UTF-16 code units.
    assert_eq!(
        utf16_order("\u{fb33}".as_bytes(), "\u{1f600}".as_bytes()),
        Ordering::Greater
    );
    assert_eq!(
        utf16_order("a\u{1f600}".as_bytes(), "a\u{e000}".as_bytes()),
        Ordering::Less
    );
    assert_eq!(utf16_order(b"ab", b"abc"), Ordering::Less);
    assert_eq!(utf16_order(b"abc", b"abc"), Ordering::Equal);
}

#[derive(Serialize)]
struct Unordered {
    zeta: u8,
    #[serde(rename = "\u{fb33}")]
    top_of_bmp: u8,
    #[serde(rename = "\u{1f600}")]
    emoji: u8,
    alpha: Vec<Unordered>,
}

#[test]
fn struct_fields_out_of_order_are_sorted_at_every_level() {
    let value = Unordered {
        zeta: 1,
        top_of_bmp: 2,
        emoji: 3,
        alpha: vec![Unordered {
            zeta: 4,
            top_of_bmp: 5,
            emoji: 6,
            alpha: vec![],
        }],
    };
    let want = "{\"alpha\":[{\"alpha\":[],\"zeta\":4,\"\u{1f600}\":6,\"\u{fb33}\":5}],\
                \"zeta\":1,\"\u{1f600}\":3,\"\u{fb33}\":2}";
    assert_eq!(String::from_utf8(direct(&value)).unwrap(), want);
    assert_eq!(direct(&value), reference(&value).unwrap());
}

#[derive(Serialize)]
enum Shape {
    Unit,
    Newtype(u8),
    Tuple(u8, String),
    Struct { b: u8, a: u8 },
}

#[test]
fn enums_and_bytes_match_the_general_path() {
    for shape in [
        Shape::Unit,
        Shape::Newtype(1),
        Shape::Tuple(2, "x".into()),
        Shape::Struct { b: 1, a: 2 },
    ] {
        assert_eq!(direct(&shape), reference(&shape).unwrap());
    }
    let bytes = serde_bytes_like(&[0, 7, 255]);
    assert_eq!(direct(&bytes), b"[0,7,255]");
    assert_eq!(direct(&bytes), reference(&bytes).unwrap());
    assert_eq!(direct(&(f64::NAN, 'é', ())), b"[null,\"\xc3\xa9\",null]");
    assert_eq!(
        direct(&(f64::NAN, 'é', ())),
        reference(&(f64::NAN, 'é', ())).unwrap()
    );
}

/// A value that serializes through `serialize_bytes`.
fn serde_bytes_like(bytes: &[u8]) -> impl Serialize + '_ {
    struct Bytes<'a>(&'a [u8]);
    impl Serialize for Bytes<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
    Bytes(bytes)
}

#[test]
fn integer_and_escaped_map_keys_are_ordered_by_their_text() {
    let ints = BTreeMap::from([(2u32, "b"), (10, "a"), (1, "c")]);
    assert_eq!(direct(&ints), br#"{"1":"c","10":"a","2":"b"}"#);
    let escaped = HashMap::from([("b\n", 1), ("a\"", 2), ("a", 3), ("\u{1}", 4)]);
    assert_eq!(
        String::from_utf8(direct(&escaped)).unwrap(),
        r#"{"\u0001":4,"a":3,"a\"":2,"b\n":1}"#
    );
    assert_eq!(direct(&escaped), reference(&escaped).unwrap());
}

#[derive(Serialize)]
struct Flattened {
    a: u8,
    #[serde(flatten)]
    extra: BTreeMap<String, u8>,
}

#[test]
fn shapes_left_to_the_general_path_give_its_answer() {
    // Duplicate member names: serde_json keeps the last.
    let dup = Flattened {
        a: 1,
        extra: BTreeMap::from([("a".to_owned(), 2)]),
    };
    assert!(serializer::write(&dup).is_err());
    assert_eq!(to_canonical_bytes(&dup).unwrap(), reference(&dup).unwrap());
    assert_eq!(to_canonical_bytes(&dup).unwrap(), br#"{"a":2}"#);
    // Raw JSON is parsed and canonicalized.
    let raw = serde_json::value::RawValue::from_string(r#"{"b": 1, "a": 2.50}"#.into()).unwrap();
    assert_eq!(to_canonical_bytes(&raw).unwrap(), br#"{"a":2.5,"b":1}"#);
    // Keys that are not strings are refused as serde_json refuses them.
    let bool_keys = BTreeMap::from([(true, 1)]);
    assert_eq!(to_canonical_bytes(&bool_keys), reference(&bool_keys));
    let unit_keys = BTreeMap::from([((), 1)]);
    assert!(matches!(
        to_canonical_bytes(&unit_keys),
        Err(CanonicalError::NotJson(_))
    ));
}

/// Characters that exercise escaping and UTF-16 ordering: ASCII letters, controls, quotes,
/// Latin-1, the top of the BMP (U+E000..U+FFFF) and supplementary characters.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('a', 'e'),
        proptest::char::range('\u{0}', '\u{1f}'),
        Just('"'),
        Just('\\'),
        Just('/'),
        Just('\u{7f}'),
        proptest::char::range('\u{80}', '\u{ff}'),
        proptest::char::range('\u{d7fe}', '\u{d7ff}'),
        proptest::char::range('\u{e000}', '\u{e001}'),
        proptest::char::range('\u{fffe}', '\u{ffff}'),
        proptest::char::range('\u{10000}', '\u{10001}'),
        proptest::char::range('\u{1f600}', '\u{1f601}'),
        proptest::char::range('\u{10fffe}', '\u{10ffff}'),
    ]
}

fn tricky_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(tricky_char(), 0..6).prop_map(|c| c.into_iter().collect())
}

/// Longer strings, mostly plain, so that the eight-bytes-at-a-time scan meets escapes at every
/// position of a word and in the tail.
fn long_string() -> impl Strategy<Value = String> {
    let ch = prop_oneof![8 => proptest::char::range('a', 'z'), 1 => tricky_char()];
    proptest::collection::vec(ch, 0..40).prop_map(|c| c.into_iter().collect())
}

/// Member names: short tricky ones, and ones sharing a first eight bytes (ordered past them).
fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        tricky_string(),
        tricky_string().prop_map(|s| format!("constraint{s}")),
    ]
}

fn json_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (-1.0e3f64..1.0e3).prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_number(),
        long_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((member_name(), inner), 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn optional_string() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(tricky_string())
}

fn record() -> impl Strategy<Value = Record> {
    (
        any::<u64>(),
        any::<u64>(),
        proptest::option::of(any::<[u8; 32]>()),
        (optional_string(), optional_string(), optional_string()),
        proptest::collection::vec(tricky_string(), 0..3),
        proptest::option::of(json_value()),
        proptest::collection::btree_map(tricky_string(), json_value(), 0..3),
    )
        .prop_map(
            |(seq, time_ms, agent_prev, (agent_id, tool, reason), rule_ids, args, constraints)| {
                Record {
                    v: 1,
                    seq,
                    time_ms,
                    prev: Hash([1u8; 32]),
                    agent_prev: agent_prev.map(Hash),
                    actor: Actor {
                        agent_id,
                        ..Actor::default()
                    },
                    bundle_digest: None,
                    event: Event::Decision(Box::new(Decision {
                        outcome: Outcome::Deny,
                        rule_ids,
                        reasons: reason.into_iter().collect(),
                        action: Action {
                            kind: ActionKind::McpCall,
                            tool,
                            args_digest: None,
                            args_redacted: args,
                            upstream: None,
                            model: None,
                        },
                        constraints,
                        rewrite: None,
                        approval: None,
                        cost: None,
                    })),
                }
            },
        )
}

proptest! {
    #[test]
    fn every_finite_double_round_trips(bits in any::<u64>()) {
        let f = f64::from_bits(bits);
        if f.is_finite() {
            let mut s = String::new();
            write_double(f, &mut s).unwrap();
            let back: f64 = s.parse().unwrap();
            prop_assert!(back == f || (back == 0.0 && f == 0.0), "{f:e} -> {s}");
        }
    }

    #[test]
    fn arbitrary_json_is_written_as_the_reference_writes_it(value in json_value()) {
        prop_assert_eq!(direct(&value), reference(&value).unwrap());
    }

    #[test]
    fn arbitrary_records_are_written_as_the_reference_writes_them(record in record()) {
        prop_assert_eq!(direct(&record), reference(&record).unwrap());
    }

    #[test]
    fn utf16_order_agrees_with_comparing_code_units(a in tricky_string(), b in tricky_string()) {
        prop_assert_eq!(
            utf16_order(a.as_bytes(), b.as_bytes()),
            a.encode_utf16().cmp(b.encode_utf16())
        );
    }

    #[test]
    fn strings_are_escaped_as_json_stringify_does(s in long_string()) {
        let mut out = Vec::new();
        write_string(&s, &mut out);
        prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap());
    }
}
