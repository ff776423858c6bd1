//! `serve --broker` keeps the ids it accepted in its data dir (issue 25, item 5): a restarted
//! server still answers 409 for them. Needs RabbitMQ like the rest of this binary.

use crate::common;
use crate::common::broker::*;

#[test]
fn serve_broker_refuses_an_id_it_accepted_before_it_was_killed() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "relayids");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags = ["--data-dir", data.to_str().unwrap()];
    let serve = serve_broker_with(&url, &q, &flags);
    assert_eq!(post_event(&serve.addr, 1, 1), Some(202));
    assert_eq!(post_event(&serve.addr, 2, 2), Some(202));
    assert_eq!(post_event(&serve.addr, 1, 1), Some(409));
    serve.kill(); // SIGKILL: nothing is written at shutdown
    let again = serve_broker_with(&url, &q, &flags);
    assert_eq!(
        post_event(&again.addr, 1, 1),
        Some(409),
        "forgotten across a restart"
    );
    assert_eq!(
        post_event(&again.addr, 2, 2),
        Some(409),
        "forgotten across a restart"
    );
    assert_eq!(post_event(&again.addr, 1, 3), Some(202));
    again.kill();
    assert_eq!(ready_messages(&url, &q.topo), 3, "each id published once");
}
