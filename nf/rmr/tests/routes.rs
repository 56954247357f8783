//! Route table parsing and lookup, following librmr's `rt_generic_static.c` semantics.

use nf_rmr::frame::UNSET_SUBID;
use nf_rmr::route::{NoRoute, RouteErrorKind, RouteLoader, Target};
use nf_rmr::{RouteTable, mtype};

const E2T: &str = "service-ricplt-e2term-rmr-alpha.ricplt:38000";

#[test]
fn seed_table_of_an_o_ran_sc_xapp() {
    let t = RouteTable::parse(&format!(
        "# seed table\n\
         newrt|start|seed-1\n\
         rte|12040|{E2T}\n\
         rte|12010|submgr:4560   # subscription manager\n\
         mse|12050|7|xapp-a:4560,xapp-b:4560;collector:4560\n\
         rte|12041|ack:4560|9\n\
         newrt|end|4\n"
    ))
    .expect("valid table");
    assert_eq!(t.table_id(), Some("seed-1"));
    assert_eq!(t.len(), 4);
    assert_eq!(
        t.destinations(mtype::RIC_CONTROL_REQ, UNSET_SUBID, "")
            .unwrap(),
        vec![E2T]
    );
    // A sub_id without its own entry falls back to the mtype entry.
    assert_eq!(
        t.destinations(mtype::RIC_CONTROL_REQ, 55, "").unwrap(),
        vec![E2T]
    );
    // An mse entry matches only its sub_id.
    assert_eq!(
        t.destinations(mtype::RIC_INDICATION, 8, "").unwrap_err(),
        NoRoute::NoEntry {
            mtype: 12050,
            sub_id: 8
        }
    );
    // rte with a fourth field: the subid is the fourth.
    assert!(t.entry(mtype::RIC_CONTROL_ACK, 9).is_some());
    assert!(t.entry(mtype::RIC_CONTROL_ACK, UNSET_SUBID).is_none());
}

#[test]
fn round_robin_inside_a_group_and_fan_out_across_groups() {
    let t = RouteTable::parse("newrt|start\nmse|12050|7|a:1,b:2,c:3;d:4\nnewrt|end\n").unwrap();
    let picks: Vec<Vec<String>> = (0..4)
        .map(|_| t.destinations(12050, 7, "").unwrap())
        .collect();
    assert_eq!(picks[0], vec!["a:1", "d:4"]);
    assert_eq!(picks[1], vec!["b:2", "d:4"]);
    assert_eq!(picks[2], vec!["c:3", "d:4"]);
    assert_eq!(picks[3], vec!["a:1", "d:4"]);
    match t.entry(12050, 7) {
        Some(Target::Groups(g)) => assert_eq!(g.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sender_lists_and_our_own_address() {
    let me = vec!["xapp:4560".to_owned(), "10.0.0.5:4560".to_owned()];
    let t = RouteTable::parse_as(
        "newrt|start\n\
         rte|100,xapp:4560|hc:4560\n\
         rte|101,other:4560|nobody:4560\n\
         rte|102|10.0.0.5:4560,peer:4560\n\
         rte|103|10.0.0.5:4560\n\
         newrt|end\n",
        &me,
    )
    .unwrap();
    assert!(
        t.entry(100, UNSET_SUBID).is_some(),
        "we are in the sender list"
    );
    assert!(
        t.entry(101, UNSET_SUBID).is_none(),
        "another sender's entry"
    );
    assert_eq!(t.skipped_for_other_senders(), 1);
    assert_eq!(
        t.destinations(102, UNSET_SUBID, "").unwrap(),
        vec!["peer:4560"],
        "never to ourselves"
    );
    assert!(
        t.entry(103, UNSET_SUBID).is_none(),
        "only ourselves: no entry"
    );
}

#[test]
fn meid_routing() {
    let t = RouteTable::parse(
        "newrt|start\nmse|12040|-1|%meid\nnewrt|end\n\
         meid_map|start|m1\nmme_ar|e2t-a:38000|gnb1 gnb2\nmme_ar|e2t-b:38000|gnb3\nmme_del|gnb2\nmeid_map|end|3\n",
    )
    .unwrap();
    assert_eq!(
        t.destinations(12040, UNSET_SUBID, "gnb1").unwrap(),
        vec!["e2t-a:38000"]
    );
    assert_eq!(
        t.destinations(12040, UNSET_SUBID, "gnb3").unwrap(),
        vec!["e2t-b:38000"]
    );
    assert_eq!(
        t.destinations(12040, UNSET_SUBID, "gnb2").unwrap_err(),
        NoRoute::UnknownMeid("gnb2".into())
    );
}

#[test]
fn updates_and_deletes_change_the_active_table() {
    let t = RouteTable::parse(
        "newrt|start|t1\nrte|1|a:1\nrte|2|b:2\nnewrt|end\n\
         updatert|start|u1\ndel|1|-1\nrte|3|c:3\nupdatert|end|2\n",
    )
    .unwrap();
    assert!(t.entry(1, UNSET_SUBID).is_none());
    assert!(t.entry(2, UNSET_SUBID).is_some());
    assert!(t.entry(3, UNSET_SUBID).is_some());
}

#[test]
fn bad_records_are_refused_with_line_and_reason() {
    let cases: &[(&str, usize, &str)] = &[
        ("newrt|start\nrte|abc|a:1\nnewrt|end\n", 2, "bad_number"),
        (
            "newrt|start\nrte|1|a:1\nrte|2|nohostport\nnewrt|end\n",
            3,
            "bad_endpoint",
        ),
        ("newrt|start\nrte|1|a:99999\nnewrt|end\n", 2, "bad_endpoint"),
        ("newrt|start\nrte|1\nnewrt|end\n", 2, "missing_fields"),
        ("newrt|start\nfoo|1|a:1\nnewrt|end\n", 2, "unknown_record"),
        ("rte|1|a:1\n", 1, "outside_table"),
        ("newrt|start\nrte|1|a:1\nnewrt|end|5\n", 3, "count_mismatch"),
        ("newrt|start\nrte|1|a:1\n", 2, "not_ended"),
        ("# nothing\n", 1, "no_table"),
        (
            "updatert|start\nrte|1|a:1\nupdatert|end\n",
            1,
            "update_before_full",
        ),
        (
            "newrt|start|x\nnewrt|start|y\nnewrt|end\n",
            2,
            "not_complete",
        ),
    ];
    for (text, line, reason) in cases {
        let e = RouteTable::parse(text).expect_err(text);
        assert_eq!((e.line, e.reason()), (*line, *reason), "{text:?}: {e}");
    }
}

#[test]
fn pushed_records_across_messages_and_a_refused_table() {
    let mut l = RouteLoader::new(vec![]);
    assert!(l.feed("newrt|start|tbl-9", None).unwrap().is_none());
    assert!(l.feed("rte|12040|e2t:38000", None).unwrap().is_none());
    assert!(l.in_progress());
    let done = l.feed("newrt|end|1", None).unwrap().expect("complete");
    assert_eq!(done.table_id.as_deref(), Some("tbl-9"));
    let cur = done.table;
    // A bad record refuses the table; the rest of it is skipped without further errors.
    l.feed("newrt|start|tbl-10", Some(&cur)).unwrap();
    assert!(matches!(
        l.feed("rte|x|e2t:38000", Some(&cur)),
        Err(RouteErrorKind::BadNumber { .. })
    ));
    assert!(l.feed("rte|12041|e2t:38000", Some(&cur)).unwrap().is_none());
    assert!(
        l.feed("newrt|end|2", Some(&cur)).unwrap().is_none(),
        "no table from a refused one"
    );
    assert!(!l.in_progress());
    // And the next table is accepted again.
    l.feed("newrt|start|tbl-11", Some(&cur)).unwrap();
    assert!(l.feed("newrt|end", Some(&cur)).unwrap().is_some());
}
