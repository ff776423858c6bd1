use eventbench::engine::{scheduler, sim, verify, Strategy};
use eventbench::types::*;
use eventbench::workload::*;
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args[1].parse().unwrap();
    let accts: u64 = args[2].parse().unwrap();
    let strategy: Strategy = args[3].parse().unwrap();
    let lanes: Option<u64> = args.get(4).map(|s| s.parse().unwrap());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let t = Instant::now();
    let mut w = Workload::new(Source::Live("perf".into()), Micros(1_000_000));
    w.reserve(n as usize);
    for i in 1..=n {
        w.push(EventId(i), AccountId(rng.random_range(1..=accts)), None);
    }
    eprintln!("build {:?}", t.elapsed());
    let t = Instant::now();
    let mut s = scheduler::build(strategy, lanes);
    let exec = sim::simulate(&w, s.as_mut());
    let el = t.elapsed();
    eprintln!(
        "sim {:?} {:.1} M ev/s wall {}",
        el,
        n as f64 / el.as_secs_f64() / 1e6,
        exec.wall
    );
    let t = Instant::now();
    let v = verify::verify(&w, &exec.records);
    eprintln!("verify {:?} ok={}", t.elapsed(), v.passed(false));
}
