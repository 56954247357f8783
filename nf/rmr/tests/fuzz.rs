//! Seeded fuzzing of the frame decoder: 1,048,576 inputs (mutated valid frames, hostile
//! length fields, truncations, random bytes), no panic; every accepted frame re-encodes
//! into a frame that decodes to the same message.

use bytes::Bytes;
use nf_rmr::frame::{self, RMR_HDR_LEN, TP_HDR_LEN};
use nf_rmr::{Message, mtype};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const INPUTS: usize = 1 << 20;
const MAX_FRAME: usize = 64 * 1024;

fn base_frames() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, size) in [0usize, 1, 17, 300, 5000].into_iter().enumerate() {
        let mut m = Message::new(mtype::RIC_INDICATION + i as i32, vec![i as u8; size])
            .with_sub_id(i as i32 * 3 - 1)
            .with_meid("gnb_001_001_0000019b")
            .with_xid(Bytes::from(format!("x{i}")));
        m.src = "e2term:38000".into();
        m.srcip = "10.1.2.3:38000".into();
        if i % 2 == 1 {
            m.trace = Bytes::from(vec![0xab; i * 5]);
        }
        out.push(frame::encode(&m, MAX_FRAME).expect("base frame").to_vec());
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/interop/vectors/rmr-frames.json"
    );
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let v: serde_json::Value = serde_json::from_str(&text).expect("json");
            for e in v.as_array().expect("array") {
                out.push(hex::decode(e["hex"].as_str().expect("hex")).expect("hex"));
            }
        }
        Err(_) => println!("note: {path} absent, fuzzing from our own frames only"),
    }
    out
}

fn mutate(rng: &mut StdRng, base: &[u8]) -> Vec<u8> {
    let mut f = base.to_vec();
    match rng.random_range(0..8) {
        0 => {
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..f.len());
                f[i] ^= 1 << rng.random_range(0..8);
            }
        }
        1 => f.truncate(rng.random_range(0..f.len())),
        2 => {
            // A hostile 32-bit value in one of the length / version / type fields.
            let offs = [
                0usize,
                4,
                TP_HDR_LEN,
                TP_HDR_LEN + 4,
                TP_HDR_LEN + 8,
                TP_HDR_LEN + 196,
                TP_HDR_LEN + 200,
                TP_HDR_LEN + 204,
                TP_HDR_LEN + 208,
                TP_HDR_LEN + 212,
            ];
            let at = offs[rng.random_range(0..offs.len())];
            let v: u32 = match rng.random_range(0..4) {
                0 => u32::MAX,
                1 => 0x8000_0000,
                2 => rng.random_range(0..1024),
                _ => rng.random(),
            };
            f[at..at + 4].copy_from_slice(&v.to_be_bytes());
        }
        3 => {
            // A consistent transport length but random header bytes.
            let n = rng.random_range(TP_HDR_LEN + RMR_HDR_LEN..TP_HDR_LEN + RMR_HDR_LEN + 600);
            f = (0..n).map(|_| rng.random()).collect();
            f[..4].copy_from_slice(&(n as u32).to_le_bytes());
            f[8] = b'$';
        }
        4 => {
            f = (0..rng.random_range(0..700))
                .map(|_| rng.random())
                .collect()
        }
        5 => {
            let extra = rng.random_range(1..64);
            f.extend((0..extra).map(|_| rng.random::<u8>()));
        }
        6 => {
            // Non-UTF-8 or unterminated text fields.
            let at = TP_HDR_LEN + [76usize, 140, 216][rng.random_range(0..3)];
            if at < f.len() {
                let end = (at + 64).min(f.len());
                for b in &mut f[at..end] {
                    *b = rng.random();
                }
            }
        }
        _ => {
            let at = rng.random_range(0..f.len());
            f[at..].iter_mut().for_each(|b| *b = rng.random());
        }
    }
    f
}

#[test]
fn a_million_hostile_frames_no_panic() {
    let bases = base_frames();
    let mut rng = StdRng::seed_from_u64(0x524d_5239_3500);
    let (mut accepted, mut refused) = (0usize, 0usize);
    let mut kinds = std::collections::BTreeMap::new();
    for n in 0..INPUTS {
        let base = &bases[n % bases.len()];
        let input = mutate(&mut rng, base);
        let _ = frame::frame_len(&input, MAX_FRAME);
        match frame::decode(&input, MAX_FRAME) {
            Ok(m) => {
                accepted += 1;
                let again = frame::encode(&m, usize::MAX).expect("a decoded message re-encodes");
                assert_eq!(
                    frame::decode(&again, usize::MAX).expect("re-decodes"),
                    m,
                    "input {n}"
                );
            }
            Err(e) => {
                refused += 1;
                *kinds.entry(e.kind()).or_insert(0usize) += 1;
            }
        }
    }
    println!("fuzz: {INPUTS} inputs, {accepted} accepted, {refused} refused: {kinds:?}");
    assert_eq!(accepted + refused, INPUTS);
    assert!(accepted > 0 && refused > 0);
}
