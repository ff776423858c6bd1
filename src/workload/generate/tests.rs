//! Tests of `generate`.

use super::*;

fn spec(events: u64, max: u64, distribution: Distribution) -> Spec {
    Spec {
        events,
        max_account_id: max,
        seed: 12_345,
        distribution,
        duration: None,
    }
}

fn csv_bytes(spec: &Spec) -> Vec<u8> {
    let mut out = Vec::new();
    write_csv(spec, &mut out).unwrap();
    out
}

/// Events per account, indexed by account id (index 0 unused).
fn counts(spec: &Spec) -> Vec<u64> {
    let mut c = vec![0u64; spec.max_account_id as usize + 1];
    for (_, a, _) in events(spec) {
        c[a.0 as usize] += 1;
    }
    c
}

#[test]
fn distributions_parse_and_display_round_trip() {
    for text in [
        "uniform", "zipf:1.2", "zipf:1", "zipf:0.5", "hot:0.5", "hot:0", "hot:1",
    ] {
        let d: Distribution = text.parse().unwrap();
        assert_eq!(d.to_string(), text);
        assert_eq!(d.to_string().parse::<Distribution>().unwrap(), d);
    }
    assert_eq!(
        " ZIPF:2 ".parse::<Distribution>().unwrap(),
        Distribution::Zipf(2.0)
    );
}

#[test]
fn bad_distributions_explain_the_valid_forms() {
    for text in [
        "zipf:abc",
        "zipf:0",
        "zipf:-1",
        "zipf:inf",
        "zipf:NaN",
        "zipf",
        "hot:1.5",
        "hot:-0.1",
        "hot",
        "uniform:3",
        "normal",
        "",
    ] {
        let err = text.parse::<Distribution>().unwrap_err();
        assert!(err.contains("expected uniform, zipf:S"), "{text}: {err}");
    }
    assert!("zipf:abc"
        .parse::<Distribution>()
        .unwrap_err()
        .contains("'abc' is not a number"));
    assert!("hot:2"
        .parse::<Distribution>()
        .unwrap_err()
        .contains("between 0 and 1"));
}

#[test]
fn duration_distributions_parse_and_display_round_trip() {
    let u: DurationDist = "uniform:0ms..5ms".parse().unwrap();
    assert_eq!(
        u,
        DurationDist::Uniform {
            lo: Micros(0),
            hi: Micros(5_000)
        }
    );
    for text in [
        "uniform:0ms..5ms",
        "uniform:1500us..2s",
        "exp:2ms",
        "exp:7us",
        "uniform:3ms..3ms",
    ] {
        let d: DurationDist = text.parse().unwrap();
        assert_eq!(d.to_string(), text);
    }
    let odd: DurationDist = "exp:1.5ms".parse().unwrap();
    assert_eq!(
        odd,
        DurationDist::Exp {
            mean: Micros(1_500)
        }
    );
    assert_eq!(odd.to_string().parse::<DurationDist>().unwrap(), odd);
}

#[test]
fn bad_duration_distributions_explain_the_valid_forms() {
    for text in [
        "uniform:5ms..1ms",
        "uniform:5ms",
        "uniform:..1ms",
        "exp:abc",
        "exp",
        "gauss:1ms",
    ] {
        let err = text.parse::<DurationDist>().unwrap_err();
        assert!(err.contains("expected uniform:LO..HI"), "{text}: {err}");
    }
    let err = "uniform:5ms..1ms".parse::<DurationDist>().unwrap_err();
    assert!(
        err.contains("lower bound is above the upper bound"),
        "{err}"
    );
}

#[test]
fn same_seed_gives_identical_bytes_and_different_seeds_differ() {
    let mut a = spec(5_000, 100, Distribution::Zipf(1.1));
    a.duration = Some(DurationDist::Exp {
        mean: Micros(2_000),
    });
    assert_eq!(csv_bytes(&a), csv_bytes(&a));
    let mut b = a.clone();
    b.seed += 1;
    assert_ne!(csv_bytes(&a), csv_bytes(&b));
}

#[test]
fn a_seed_names_the_same_file_forever() {
    // Pinned output: if this changes, every published seed now means a different file.
    let text = String::from_utf8(csv_bytes(&Spec {
        seed: 1,
        ..builtin_spec()
    }))
    .unwrap();
    assert!(text.starts_with("event_id,account_id\n1,403\n2,81\n3,597\n4,220\n5,284\n"));
}

#[test]
fn csv_has_the_header_and_one_row_per_event() {
    let text = String::from_utf8(csv_bytes(&spec(3, 1, Distribution::Uniform))).unwrap();
    assert_eq!(text, "event_id,account_id\n1,1\n2,1\n3,1\n");
    let mut with = spec(2, 1, Distribution::Uniform);
    with.duration = Some(DurationDist::Uniform {
        lo: Micros(4),
        hi: Micros(4),
    });
    let text = String::from_utf8(csv_bytes(&with)).unwrap();
    assert_eq!(text, "event_id,account_id,duration_us\n1,1,4\n2,1,4\n");
    assert_eq!(
        csv_bytes(&spec(0, 5, Distribution::Uniform)),
        b"event_id,account_id\n"
    );
}

#[test]
fn ids_run_from_one_and_accounts_stay_in_range() {
    for dist in [
        Distribution::Uniform,
        Distribution::Zipf(1.2),
        Distribution::Hot(0.3),
    ] {
        for max in [1, 2, 7, 1_000] {
            let s = spec(2_000, max, dist);
            let mut n = 0;
            for (i, (id, account, d)) in events(&s).enumerate() {
                assert_eq!(id, EventId(i as u64 + 1));
                assert!(
                    (1..=max).contains(&account.0),
                    "{dist} max {max}: {account:?}"
                );
                assert_eq!(d, None);
                n += 1;
            }
            assert_eq!(n, 2_000);
        }
    }
}

#[test]
fn uniform_is_roughly_flat() {
    let s = spec(100_000, 100, Distribution::Uniform);
    let c = counts(&s);
    let expected = 1_000.0;
    let chi2: f64 = c[1..]
        .iter()
        .map(|&n| (n as f64 - expected).powi(2) / expected)
        .sum();
    // 99 degrees of freedom: mean 99, standard deviation 14; 200 is far out in the tail.
    assert!(chi2 < 200.0, "chi-square {chi2}");
    assert!(c[1..].iter().all(|&n| n > 800 && n < 1_200), "{c:?}");
}

#[test]
fn zipf_puts_account_one_first_and_decreases_with_rank() {
    let s = spec(200_000, 50, Distribution::Zipf(1.2));
    let c = counts(&s);
    let top = *c.iter().max().unwrap();
    assert_eq!(c[1], top);
    // Weight ratio of ranks 1 and 2 is 2^1.2 = 2.3.
    let ratio = c[1] as f64 / c[2] as f64;
    assert!((2.0..2.6).contains(&ratio), "ratio {ratio}");
    let blocks: Vec<u64> = c[1..].chunks(10).map(|b| b.iter().sum()).collect();
    assert!(blocks.windows(2).all(|w| w[0] > w[1]), "{blocks:?}");
}

#[test]
fn hot_gives_account_one_its_share() {
    let s = spec(100_000, 1_000, Distribution::Hot(0.5));
    let c = counts(&s);
    let share = c[1] as f64 / 100_000.0;
    assert!((0.49..0.51).contains(&share), "share {share}");
    let rest = c[2..].iter().copied().max().unwrap();
    assert!(
        rest < 120,
        "the other accounts should be spread evenly, max {rest}"
    );
    assert_eq!(counts(&spec(50, 1, Distribution::Hot(0.1)))[1], 50);
    assert_eq!(counts(&spec(1_000, 10, Distribution::Hot(0.0)))[1], 0);
}

#[test]
fn durations_stay_within_bounds_and_follow_the_mean() {
    let mut s = spec(100_000, 10, Distribution::Uniform);
    s.duration = Some(DurationDist::Uniform {
        lo: Micros(0),
        hi: Micros(5_000),
    });
    let d: Vec<u64> = events(&s).map(|(_, _, d)| d.unwrap().0).collect();
    assert!(d.iter().all(|&x| x <= 5_000));
    assert!(
        d.contains(&0) && d.contains(&5_000),
        "both bounds are inclusive"
    );
    s.duration = Some(DurationDist::Exp {
        mean: Micros(2_000),
    });
    let d: Vec<u64> = events(&s).map(|(_, _, d)| d.unwrap().0).collect();
    let mean = d.iter().sum::<u64>() as f64 / d.len() as f64;
    assert!((mean - 2_000.0).abs() < 40.0, "mean {mean}");
    s.duration = Some(DurationDist::Exp { mean: Micros(0) });
    assert!(events(&s).all(|(_, _, d)| d == Some(Micros(0))));
}

#[test]
fn build_matches_the_csv_and_names_its_source() {
    let w = build(&builtin_spec(), Micros(1_000_000));
    assert_eq!(w.source(), &Source::Builtin { seed: BUILTIN_SEED });
    assert_eq!(w.len(), 10_000);
    assert_eq!(w.shape().uniform, Some(Micros(1_000_000)));

    let mut s = spec(500, 20, Distribution::Zipf(1.0));
    s.duration = Some(DurationDist::Uniform {
        lo: Micros(1),
        hi: Micros(9),
    });
    let built = build(&s, Micros(1));
    assert!(
        matches!(built.source(), Source::Live(what) if what.starts_with("generated: 500 events"))
    );
    let bytes = csv_bytes(&s);
    let loaded =
        crate::workload::csv::load_reader(&bytes[..], std::path::Path::new("g.csv"), Micros(1))
            .unwrap();
    assert_eq!(built.len(), loaded.len());
    assert_eq!(built.durations(), loaded.durations());
    for e in built.indexes() {
        assert_eq!(built.event_id(e), loaded.event_id(e));
        assert_eq!(
            built.account_id(built.account_of(e)),
            loaded.account_id(loaded.account_of(e))
        );
    }
}
