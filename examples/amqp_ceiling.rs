//! The broker's own ceiling on this machine, with the client library eventbench uses (lapin):
//! a minimal publisher (persistent messages, publisher confirms, one channel, confirms awaited
//! in a sliding window) and a minimal consumer (one channel per queue, prefetch 1000, one ack
//! per message, nothing else), on the same queue layout as `publish` and `worker`. The gap
//! between these rates and eventbench's is what eventbench itself costs. With BATCH above 1 each
//! message carries BATCH events as a JSON array (the body `publish --batch` sends) and rates are
//! in events/s, so the broker's per-message cost is spread the same way.
//!
//! cargo run --release --example amqp_ceiling -- [URL] [EVENTS] [QUEUES] [BATCH]
//! cargo run --release --example amqp_ceiling -- --delete URL PREFIX QUEUES   # delete the queues and exchange

use eventbench::internals::amqp;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use std::collections::VecDeque;
use std::time::Instant;

/// Confirms outstanding before the publisher waits for the oldest.
const WINDOW: usize = 4096;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--delete") {
        let rest: Vec<String> = args.skip(1).collect();
        let [url, prefix, queues] = rest.as_slice() else {
            return Err("usage: --delete URL PREFIX QUEUES".into());
        };
        // The queues and the workers' exchange, as eventbench's own tests clean up.
        let topo = amqp::Topology::new(url, queues.parse()?, prefix);
        amqp::delete(url, &topo).await?;
        return Ok(());
    }
    let url = args
        .next()
        .unwrap_or_else(|| "amqp://127.0.0.1:5672/%2f".to_string());
    let events: u64 = args.next().map_or(Ok(100_000), |s| s.parse())?;
    let queues: u64 = args.next().map_or(Ok(50), |s| s.parse())?;
    let batch: u64 = args.next().map_or(Ok(1), |s| s.parse())?.max(1);
    let prefix = format!("ceiling-{}", std::process::id());
    let names: Vec<String> = (0..queues).map(|i| format!("{prefix}.{i}")).collect();

    let conn = Connection::connect(&url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    let mut args = FieldTable::default();
    args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for n in &names {
        ch.queue_declare(n, durable, args.clone()).await?;
    }

    // Publisher: the same JSON body shape eventbench sends.
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let props = BasicProperties::default().with_delivery_mode(2);
    let started = Instant::now();
    let mut pending = VecDeque::with_capacity(WINDOW);
    let mut messages = 0u64;
    // Message m carries events m*batch+1.. of account m % 10,000 + 1 (one queue per message).
    for m in 0..events.div_ceil(batch) {
        let account = m % 10_000 + 1;
        let ids = m * batch + 1..=((m + 1) * batch).min(events);
        let one = |i: u64| format!(r#"{{"event_id":{i},"account_id":{account}}}"#);
        let body = if batch == 1 {
            one(m + 1)
        } else {
            format!("[{}]", ids.map(one).collect::<Vec<_>>().join(","))
        };
        messages += 1;
        let queue = &names[(account % queues) as usize];
        let c = ch
            .basic_publish(
                "",
                queue,
                BasicPublishOptions::default(),
                body.as_bytes(),
                props.clone(),
            )
            .await?;
        pending.push_back(c);
        if pending.len() == WINDOW {
            pending.pop_front().unwrap().await?;
        }
    }
    for c in pending {
        c.await?;
    }
    let published = started.elapsed().as_secs_f64();
    println!(
        "lapin publisher: {events} events in {messages} persistent confirmed messages to \
         {queues} queues in {published:.3}s = {:.0} events/s",
        events as f64 / published
    );

    // Consumer: everything back, one ack per message.
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let mut keep = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let ch = conn.create_channel().await?;
        ch.basic_qos(1000, BasicQosOptions::default()).await?;
        let mut consumer = ch
            .basic_consume(
                n,
                &format!("c{i}"),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let tx = tx.clone();
        keep.push(ch);
        tokio::spawn(async move {
            while let Some(Ok(d)) = consumer.next().await {
                if d.acker.ack(BasicAckOptions::default()).await.is_err() {
                    return;
                }
                // Counting the events is all the work; the body is not parsed.
                let n = d.data.iter().filter(|&&b| b == b'{').count() as u64;
                let _ = tx.send(n);
            }
        });
    }
    let mut got = 0;
    while got < events {
        got += rx.recv().await.unwrap_or(events);
    }
    let consumed = started.elapsed().as_secs_f64();
    println!(
        "lapin consumer:  {events} events in {messages} messages from {queues} queues, acked one \
         by one, in {consumed:.3}s = {:.0} events/s",
        events as f64 / consumed
    );
    for n in &names {
        ch.queue_delete(n, QueueDeleteOptions::default()).await?;
    }
    let _ = conn.close(200, "done").await;
    Ok(())
}
