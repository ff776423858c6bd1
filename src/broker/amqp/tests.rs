//! Unit tests of the AMQP plumbing: queue routing, message bodies and the `--broker` check.

use super::*;

#[test]
fn accounts_map_to_fixed_queues_and_passwords_are_hidden() {
    let t = Topology::new("amqp://u:secret@h:5672/%2f", 5, "x");
    assert_eq!(t.queue_of(AccountId(12)), 2);
    assert_eq!(t.queue_name(2), "x.2");
    assert_eq!(t.display_url(), "amqp://u:***@h:5672/%2f");
    let t = Topology::new("amqp://u:a@b@h/v?x=@", 1, "x");
    assert_eq!(t.display_url(), "amqp://u:***@h/v?x=@");
    assert_eq!(
        Topology::new("amqp://h/%2f", 1, "x").display_url(),
        "amqp://h/%2f"
    );
}

#[test]
fn only_amqp_urls_pass_the_check() {
    let err = check_url("http://u:secret@h:5672/").unwrap_err();
    assert!(
        err.contains("not a RabbitMQ URL") && !err.contains("secret"),
        "{err}"
    );
    for raw in ["127.0.0.1:5672", "localhost", "", "amqpx://h/"] {
        let err = check_url(raw).unwrap_err();
        assert!(err.contains("not a RabbitMQ URL"), "{raw}: {err}");
    }
}

/// What lapin reads from a URL that passes: the check must not refuse what works today.
fn lapin_reads(raw: &str) -> lapin::uri::AMQPUri {
    assert_eq!(check_url(raw), Ok(()), "{raw}");
    raw.parse().unwrap()
}

#[test]
fn urls_that_work_today_still_pass() {
    let u = lapin_reads("amqp://127.0.0.1:5672/%2f");
    assert_eq!(
        (u.authority.host.as_str(), u.authority.port),
        ("127.0.0.1", 5672)
    );
    assert_eq!(u.vhost, "/");
    assert_eq!(lapin_reads("amqp://h/%2f").authority.port, 5672);
    assert_eq!(lapin_reads("amqps://u:p@h/%2f").authority.port, 5671);
    assert_eq!(lapin_reads("AMQP://H:1/v").authority.port, 1);
    assert_eq!(lapin_reads("amqp://h:65535").authority.port, 65535);
    let u = lapin_reads("amqp://ev:p%40ss@rabbit.local:5673/prod");
    assert_eq!(u.authority.userinfo.password, "p@ss");
    assert_eq!(u.vhost, "prod");
    // An unescaped '@' or backslash in the password: the host is after the last '@'.
    assert_eq!(lapin_reads("amqp://u:a@b@h:5672/%2f").authority.host, "h");
    assert_eq!(lapin_reads("amqp://u:p\\w@h/%2f").authority.host, "h");
    let u = lapin_reads("amqp://h/%2f?heartbeat=30&frame_max=8192&channel_max=64&connection_timeout=5000&auth_mechanism=plain");
    assert_eq!(
        (u.query.heartbeat, u.query.channel_max),
        (Some(30), Some(64))
    );
    assert_eq!(lapin_reads(" amqp://h:5672/%2f\n").authority.port, 5672);
}

/// A refused URL's message says `says`, shows how a valid one looks, hides the password.
fn assert_refused(raw: &str, says: &str) {
    let err = check_url(raw).unwrap_err();
    assert!(err.contains(says), "{raw}: {err}");
    assert!(err.contains(EXAMPLE_URL), "{raw}: {err}");
    assert!(!err.contains("secret"), "{raw}: {err}");
}

#[test]
fn an_empty_or_bad_port_is_refused_not_taken_for_the_default() {
    for (raw, says) in [
        (
            "amqp://h:/%2f",
            "the port after ':' is empty; give one, or drop the ':' for port 5672",
        ),
        ("amqp://h:", "port 5672"),
        ("amqp://u:secret@h:?heartbeat=5", "port 5672"),
        ("amqps://h:/%2f", "drop the ':' for port 5671"),
        ("amqp://h:0/%2f", "port 0 is out of range (1-65535)"),
        ("amqp://h:65536/%2f", "port 65536 is out of range"),
        ("amqp://h:5672x/%2f", "port '5672x' is not a number"),
        ("amqp://u:secret@h:-1/", "port '-1' is not a number"),
    ] {
        assert_refused(raw, says);
    }
}

#[test]
fn the_host_must_be_written_after_two_slashes() {
    for (raw, says) in [
        ("amqp:///%2f", "the host is empty"),
        ("amqp://:5672/%2f", "the host is empty"),
        ("amqp://u:secret@/%2f", "the host is empty"),
        ("amqp:h/%2f", "no '//' before the host"),
        ("amqp:/h/%2f", "no '//' before the host"),
        ("amqp://::1:5672/", "an IPv6 address needs brackets"),
    ] {
        assert_refused(raw, says);
    }
    // lapin turns an IPv6 literal into `localhost`; if it learns better, lift the refusal.
    let uri: lapin::uri::AMQPUri = "amqp://[2001:db8::1]:5672/%2f".parse().unwrap();
    assert_eq!(uri.authority.host, "localhost");
    let err = check_url("amqp://[2001:db8::1]:5672/%2f").unwrap_err();
    assert!(err.contains("cannot connect to an IPv6 address"), "{err}");
}

#[test]
fn what_lapin_refuses_is_still_refused_with_its_words() {
    let err = check_url("amqp://h/%2f?heartbeat=soon").unwrap_err();
    assert!(err.starts_with("invalid RabbitMQ URL"), "{err}");
    assert!(check_url("amqp://a b/").is_err());
}

#[test]
fn message_round_trips_without_duration() {
    let m = Message {
        event_id: 1,
        account_id: 2,
        duration_us: None,
    };
    let s = serde_json::to_string(&m).unwrap();
    assert_eq!(s, r#"{"event_id":1,"account_id":2}"#);
    assert_eq!(serde_json::from_str::<Message>(&s).unwrap(), m);
}

#[test]
fn hand_written_bodies_are_the_serde_bodies() {
    let mut out = Vec::new();
    for duration_us in [None, Some(0), Some(u64::MAX)] {
        let m = Message {
            event_id: u64::MAX,
            account_id: 7,
            duration_us,
        };
        m.encode(&mut out);
        assert_eq!(out, serde_json::to_vec(&m).unwrap());
        assert_eq!(Message::decode(&out), Some(m));
    }
    assert_eq!(Message::decode(b"{\"event_id\":1}"), None);
}

fn event(i: u64) -> Message {
    Message {
        event_id: i,
        account_id: i % 3,
        duration_us: (i % 2 == 0).then_some(i * 10),
    }
}

#[test]
fn batches_are_json_arrays_in_push_order_and_batch_1_is_the_single_object() {
    let events: Vec<Message> = (1..=7).map(event).collect();
    let mut w = BodyWriter::new(3);
    let mut bodies = Vec::new();
    for m in &events {
        if w.push(m) {
            bodies.push(w.take());
        }
    }
    assert_eq!(w.events(), 1);
    bodies.push(w.take());
    assert_eq!(w.take(), Vec::<u8>::new(), "nothing pushed, nothing sent");
    let sizes: Vec<usize> = bodies
        .iter()
        .map(|b| Message::decode_batch(b).unwrap().len())
        .collect();
    assert_eq!(sizes, [3, 3, 1]);
    let back: Vec<Message> = bodies
        .iter()
        .flat_map(|b| Message::decode_batch(b).unwrap())
        .collect();
    assert_eq!(back, events);
    assert_eq!(bodies[0], serde_json::to_vec(&events[..3]).unwrap());
    let mut one = BodyWriter::new(1);
    assert!(one.push(&events[0]));
    let body = one.take();
    assert_eq!(body, serde_json::to_vec(&events[0]).unwrap());
    assert_eq!(Message::decode_batch(&body), Some(vec![events[0]]));
}

#[test]
fn a_batch_is_taken_whole_or_not_at_all() {
    for bad in [
        &b"[]"[..],
        b"[{\"event_id\":1,\"account_id\":2},5]",
        b"[{\"event_id\":1,\"account_id\":2}] x",
        b"[{\"event_id\":1,\"account_id\":2}",
        b"{\"event_id\":1}",
        b"42",
        b"",
    ] {
        assert_eq!(
            Message::decode_batch(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let ok = b" \n[ {\"event_id\":1,\"account_id\":2} , {\"account_id\":2,\"event_id\":3} ]";
    assert_eq!(Message::decode_batch(ok).map(|b| b.len()), Some(2));
}
