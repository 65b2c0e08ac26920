//! Micro-benchmarks of the delivery hot path: encoding a message frame,
//! storing a message in a channel's ring, and fanning one message out to N
//! in-process viewers. Run with `cargo bench -p server`.

use app::model::{ChannelName, ClientId, DisplayName, Message, MessageBody, Timestamp};
use app::protocol::ServerFrame;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use server::hub::{Draft, Hub, HubLimits};
use std::hint::black_box;

fn message(seq: u64) -> Message {
    Message {
        channel: ChannelName::parse("general").unwrap(),
        seq,
        author: DisplayName::parse("alice").unwrap(),
        body: MessageBody::parse("hello, this is a typical chat message of modest length").unwrap(),
        sent_at: Timestamp::from_datetime(chrono::Utc::now()),
        client_id: Some(ClientId::random()),
        html: String::new(),
        edited_at: None,
        reactions: Vec::new(),
        mentions: Vec::new(),
        attachments: Vec::new(),
        reply_to: None,
        replies: None,
    }
}

fn hub_with_channel() -> (Hub, app::model::UserInfo, ChannelName) {
    let limits = HubLimits {
        idempotency_window: 1000,
        ..HubLimits::default()
    };
    let hub = Hub::new(limits);
    let (user, _, _) = hub
        .register(DisplayName::parse("alice").unwrap(), None)
        .unwrap();
    let channel = ChannelName::parse("general").unwrap();
    hub.create_channel(&user, channel.clone()).unwrap();
    (hub, user, channel)
}

fn encode(c: &mut Criterion) {
    let frame = ServerFrame::Message(message(42));
    c.bench_function("encode message frame", |b| {
        b.iter(|| black_box(&frame).to_json())
    });
}

/// A message to `channel` (the in-memory hub settles it at once).
fn draft(channel: &ChannelName, client_id: ClientId, body: &MessageBody) -> Draft {
    Draft {
        channel: channel.clone(),
        client_id,
        body: body.clone(),
        attachments: Vec::new(),
        reply_to: None,
    }
}

fn ring_append(c: &mut Criterion) {
    let (hub, user, channel) = hub_with_channel();
    let body = MessageBody::parse("hello").unwrap();
    let mut n = 0u64;
    c.bench_function("store a message (ring append, no viewers)", |b| {
        b.iter(|| {
            n += 1;
            let id = ClientId::parse(&n.to_string()).unwrap();
            futures::executor::block_on(hub.post(&user, draft(&channel, id, &body))).unwrap()
        })
    });
}

fn fan_out(c: &mut Criterion) {
    let mut group = c.benchmark_group("fan out one message");
    for viewers in [10usize, 100, 1000] {
        let (hub, user, channel) = hub_with_channel();
        let mut receivers: Vec<_> = (0..viewers)
            .map(|_| hub.join(&user, &channel, None).unwrap().live)
            .collect();
        let body = MessageBody::parse("hello").unwrap();
        let mut n = 0u64;
        group.throughput(Throughput::Elements(viewers as u64));
        group.bench_with_input(BenchmarkId::from_parameter(viewers), &viewers, |b, _| {
            b.iter(|| {
                n += 1;
                let id = ClientId::parse(&n.to_string()).unwrap();
                futures::executor::block_on(hub.post(&user, draft(&channel, id, &body))).unwrap();
                for rx in receivers.iter_mut() {
                    black_box(rx.try_recv().unwrap());
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, encode, ring_append, fan_out);
criterion_main!(benches);
