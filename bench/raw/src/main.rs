//! `latchkey-bench-raw [SECONDS] [THREADS] [ROUNDS]`: the machine's raw rates, with the same
//! libraries as Latchkey, on THREADS (default 2) threads running at once. The operations take turns
//! in ROUNDS (default 5) rounds of SECONDS (default 0.6; argon2id twice that) each, and the median
//! round is reported, so that a noisy neighbour's burst spreads over all of them:
//!
//! * `rs512_sign_per_s`, `rs256_sign_per_s`: RSA-2048 PKCS#1 v1.5 signatures (SHA-512, SHA-256)
//!   over a 400-byte JWT signing input, with a parsed aws-lc-rs `RsaKeyPair`;
//! * `eddsa_sign_per_s`: Ed25519 signatures over the same input;
//! * `argon2id_verify_per_s`: argon2id verifications (argon2 0.5, m=19456 KiB, t=2, p=1, the
//!   OWASP parameters Latchkey uses by default) of a PHC string, what a password grant costs;
//! * `argon2id_verify_per_s_32threads`: the same on 32 threads at once, in one window of 5 x
//!   SECONDS (diagnostic: what 32 concurrent password grants cost when each gets its own thread).
//!
//! Each also as `*_cpu_us`: this process's CPU time per operation (all threads), which a noisy
//! neighbour disturbs far less than a rate. Prints one JSON object on stdout. These are the floors the load figures are ratios to.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{Ed25519KeyPair, RsaKeyPair, RSA_PKCS1_SHA256, RSA_PKCS1_SHA512};

/// This process's CPU time (user + system, all threads) in microseconds, from /proc/self/stat (whose
/// clock ticks are 1/100 s on Linux).
fn cpu_us() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`, which may hold spaces: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10_000.0
}

/// Runs `op` on `threads` threads at once for `warm + secs` seconds and returns the operations per
/// second (all threads together) that completed in the last `secs`: the first `warm` seconds (page
/// faults, allocations, every thread in its stride) are not counted. Also returns the CPU time per
/// operation over the whole call, which a noisy neighbour disturbs far less than the rate.
fn rate<F>(threads: usize, warm: f64, secs: f64, op: F) -> (f64, f64)
where
    F: Fn() + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let cpu0 = cpu_us();
    let all = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let from = start + Duration::from_secs_f64(warm);
    let until = from + Duration::from_secs_f64(secs);
    let count = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (op, count, all) = (op.clone(), count.clone(), all.clone());
            std::thread::spawn(move || {
                let (mut n, mut total) = (0u64, 0u64);
                loop {
                    op();
                    total += 1;
                    let now = Instant::now();
                    if now >= until {
                        break;
                    }
                    if now >= from {
                        n += 1;
                    }
                }
                count.fetch_add(n, Ordering::Relaxed);
                all.fetch_add(total, Ordering::Relaxed);
            })
        })
        .collect();
    for h in handles {
        h.join().expect("worker thread");
    }
    let cpu = cpu_us() - cpu0;
    (
        count.load(Ordering::Relaxed) as f64 / secs,
        cpu / all.load(Ordering::Relaxed).max(1) as f64,
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0.6);
    let threads: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);

    // A JWT signing input of the size Latchkey signs (header + Open edX claims, base64url).
    let input: Arc<Vec<u8>> = Arc::new(vec![b'e'; 400]);

    let rsa = Arc::new(RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 key"));
    let sig_len = rsa.public_modulus_len();
    let rng = SystemRandom::new();
    let rs = |alg: &'static dyn aws_lc_rs::signature::RsaEncoding| {
        let (rsa, input, rng) = (rsa.clone(), input.clone(), rng.clone());
        move || {
            let mut sig = vec![0u8; sig_len];
            rsa.sign(alg, &rng, &input, &mut sig).expect("RSA sign");
            std::hint::black_box(&sig);
        }
    };
    let ed = Arc::new(Ed25519KeyPair::generate().expect("Ed25519 key"));
    let eddsa = {
        let (ed, input) = (ed.clone(), input.clone());
        move || {
            std::hint::black_box(ed.sign(&input));
        }
    };
    let params = Params::new(19_456, 2, 1, None).expect("argon2 params");
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").expect("salt");
    let phc = argon
        .hash_password(b"correct horse battery staple", &salt)
        .expect("argon2 hash")
        .to_string();
    let verify = move || {
        let parsed = PasswordHash::new(&phc).expect("PHC string");
        Argon2::default()
            .verify_password(b"correct horse battery staple", &parsed)
            .expect("argon2 verify");
    };

    let mut r: [Vec<(f64, f64)>; 4] = Default::default();
    for _ in 0..rounds {
        let warm = (secs / 2.0).min(0.3);
        r[0].push(rate(threads, warm, secs, rs(&RSA_PKCS1_SHA512)));
        r[1].push(rate(threads, warm, secs, rs(&RSA_PKCS1_SHA256)));
        r[2].push(rate(threads, warm, secs, eddsa.clone()));
        r[3].push(rate(threads, warm, 2.0 * secs, verify.clone()));
    }
    // 32 threads: each argon2id takes ~32x as long to finish, so one longer window, not rounds.
    let (argon2_32, argon2_32_cpu) = rate(32, 1.5, (5.0 * secs).max(2.0), verify.clone());
    let per_s = |i: usize| median(r[i].iter().map(|x| x.0).collect());
    let cpu = |i: usize| median(r[i].iter().map(|x| x.1).collect());

    println!(
        "{{\"threads\":{threads},\"rounds\":{rounds},\"seconds\":{secs},\
         \"rs512_sign_per_s\":{:.1},\"rs256_sign_per_s\":{:.1},\"eddsa_sign_per_s\":{:.1},\
         \"argon2id_verify_per_s\":{:.2},\"argon2id_verify_per_s_32threads\":{argon2_32:.2},\
         \"rs512_sign_cpu_us\":{:.1},\"rs256_sign_cpu_us\":{:.1},\"eddsa_sign_cpu_us\":{:.2},\
         \"argon2id_verify_cpu_us\":{:.0},\"argon2id_verify_cpu_us_32threads\":{argon2_32_cpu:.0},\
         \"argon2id_params\":\"m=19456,t=2,p=1\"}}",
        per_s(0),
        per_s(1),
        per_s(2),
        per_s(3),
        cpu(0),
        cpu(1),
        cpu(2),
        cpu(3),
    );
}
