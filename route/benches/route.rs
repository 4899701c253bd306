//! Decisions per second over a varied, generated case mix: every state of the pack (and an
//! unknown one), one to four categories, platforms by id and in full, self-hosted sites with a
//! hoster, server country, CDN address or ccTLD, flags and evidence requests at random.
//! `cargo bench -p route --bench route`; criterion reports the time per batch of
//! `CASES` decisions and the throughput in decisions per second ("elem/s").

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use route::RulePack;
use shared::{
    Category, Confidence, Flags, Host, HostCandidate, HostFactor, Hoster, PlatformInfo, Referring,
    RouteCase,
};
use std::hint::black_box;
use std::path::Path;

const CASES: usize = 10_000;

/// A small deterministic generator (xorshift), so every run routes the same mix.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn cases(pack: &RulePack) -> Vec<RouteCase> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut states = pack.jurisdictions();
    states.push("UK".into());
    states.push("BR".into());
    let platforms = pack.platform_ids();
    let at = chrono::DateTime::from_timestamp(1_735_689_600, 0);
    (0..CASES)
        .map(|i| {
            let n = 1 + rng.below(4);
            let mut categories: Vec<Category> = (0..n).map(|_| *rng.pick(&Category::ALL)).collect();
            categories.dedup();
            let host = match rng.below(5) {
                0 | 1 => Host {
                    platform_id: Some(rng.pick(&platforms).clone()),
                    ..Host::default()
                },
                2 => Host {
                    platform: Some(PlatformInfo {
                        id: format!("p{i}"),
                        main_establishment: Some(rng.pick(&states).clone()),
                        legal_representative: rng.chance(30).then(|| "IE".to_string()),
                        service_areas: if rng.chance(60) {
                            vec!["EU".into()]
                        } else {
                            vec![]
                        },
                        offers_services_in_eu: false,
                        local_presence: vec![rng.pick(&states).clone()],
                        policy_covers: Category::ALL[..rng.below(12)].to_vec(),
                    }),
                    ..Host::default()
                },
                3 => Host {
                    self_hosted: true,
                    hoster: Some(Hoster {
                        id: Some("hoster".into()),
                        country: Some(rng.pick(&states).clone()),
                        policy_covers: Category::ALL[rng.below(12)..].to_vec(),
                    }),
                    server_country: Some(rng.pick(&states).clone()),
                    ..Host::default()
                },
                _ => Host {
                    self_hosted: true,
                    candidates: vec![
                        HostCandidate {
                            jurisdiction: Some("US".into()),
                            factor: HostFactor::ServerIp,
                            confidence: Confidence::Low,
                            cdn: true,
                            source: "cdn".into(),
                        },
                        HostCandidate {
                            jurisdiction: Some(rng.pick(&states).clone()),
                            factor: HostFactor::Cctld,
                            confidence: Confidence::Low,
                            cdn: false,
                            source: "cctld".into(),
                        },
                    ],
                    ..Host::default()
                },
            };
            RouteCase {
                case_id: format!("b{i}"),
                referring: Referring {
                    jurisdiction: rng.pick(&states).clone(),
                    agency: "bench".into(),
                },
                categories,
                flags: Flags {
                    tco_danger_assessed: rng.chance(50),
                    purpose_exempt: rng.chance(3),
                    terrorist_threat: rng.chance(50),
                },
                want_evidence: rng.chance(50),
                host,
                at,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/legal");
    let pack = RulePack::load(&dir).expect("fixture pack");
    let cases = cases(&pack);
    let mut g = c.benchmark_group("route");
    g.throughput(Throughput::Elements(CASES as u64));
    g.bench_function("decisions", |b| {
        b.iter(|| {
            for case in &cases {
                black_box(pack.route(black_box(case)));
            }
        })
    });
    g.sample_size(10);
    g.bench_function("explained decisions", |b| {
        b.iter(|| {
            for case in &cases {
                black_box(pack.explain(black_box(case)));
            }
        })
    });
    g.finish();
    let mut g = c.benchmark_group("hosts");
    let addrs: Vec<String> = (0..CASES)
        .map(|i| {
            let block = ["192.0.2", "198.51.100", "203.0.113", "127.0.0"][i % 4];
            format!("{block}.{}:443", i % 256)
        })
        .collect();
    g.throughput(Throughput::Elements(CASES as u64));
    g.bench_function("determine_host", |b| {
        b.iter(|| {
            for a in &addrs {
                black_box(pack.determine_host(Some("www.news.example.ru"), Some(a)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
