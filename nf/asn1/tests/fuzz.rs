//! Seeded mutation fuzzing of every APER decoder the xApp exposes to the network
//! (`e2_asn1::decode::ALL_DECODERS`): E2AP-PDU; E2SM-KPM v02.03 / v03.00 / v04.00 event
//! trigger, action definition, indication header, indication message and RAN function
//! description; E2SM-RC control header, message, outcome and RAN function definition.
//!
//! Seeds: the interop vectors (srsRAN, ONF) when `../shared/interop` is present, and random
//! well-formed encodings built here (KPM messages of all three versions, E2AP indications).
//! Mutations: bit flips, byte overwrites, truncation, length determinants set huge (two-octet
//! and fragmented forms), inserted bytes, splices of two seeds, duplicated ranges, pure noise.
//! Each input is decoded by one decoder (its seed's own type, or one in four a random other).
//!
//! The UE-level and cell radio telemetry of the interference xApp travel in the same
//! top-level types (action definition format 4, indication message formats 3 and 1 by name):
//! their encodings are seeds of those decoders here, and a second test feeds mutated inputs
//! to the domain decoders that read them (`kpm::radio::decode_ue_indication`,
//! `decode_cell_radio_indication`, `decode_ue_action_definition`, `rc::decode_ue_handover`),
//! `E2_FUZZ_RADIO_INPUTS` of them (default 400,000).
//!
//! Asserted: no panic (the library catches and counts them: `caught_panics() == 0`), the
//! slowest input under 10 ms (re-timed to discount scheduler noise on a shared box), and the
//! peak heap growth of any single decode under 1 MiB (a counting global allocator). The count
//! defaults to 10,000,000 inputs; `E2_FUZZ_INPUTS` changes it, `E2_FUZZ_SEED` the seed.
#![allow(unsafe_code)] // the counting global allocator, and nothing else

mod common;

crate::kpm_builders!(e2sm_kpm_v02_03, 4);
crate::kpm_builders!(e2sm_kpm_v03_00, 8);
crate::kpm_builders!(e2sm_kpm_v04_00, 8);

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use common::kpm;
use e2_asn1::decode::{ALL_DECODERS, AnyDecoder, caught_panics};
use e2_asn1::generated::e2ap_v02_03::e2_ap_common_data_types::ProtocolIEID;
use e2_asn1::generated::e2ap_v02_03::e2_ap_common_data_types::{Criticality, ProcedureCode};
use e2_asn1::generated::e2ap_v02_03::e2_ap_ies::{RANfunctionID, RICrequestID};
use e2_asn1::generated::e2ap_v02_03::e2_ap_pdu_contents::{
    AnonymousRICindicationProtocolIEs, RICindication, RICindicationProtocolIEs,
};
use e2_asn1::generated::e2ap_v02_03::e2_ap_pdu_descriptions::{E2APPDU, InitiatingMessage};
use e2_asn1::kpm::KpmVersion;
use e2_asn1::kpm::radio::{
    encode_cell_radio_action_definition, encode_cell_radio_indication, encode_ue_action_definition,
    encode_ue_indication,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rasn::types::{Any, OctetString};

/// Counts live heap bytes and the high-water mark since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwards the caller's layout to the system allocator unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as `GlobalAlloc::realloc`, forwarded to the system allocator.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = LIVE.fetch_add(grow, Relaxed) + grow;
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counters above are process-wide: the tests of this file take turns, or one test's
/// allocations would count as another's heap growth.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const MAX_TIME_PER_INPUT: Duration = Duration::from_millis(10);
const MAX_PEAK_PER_INPUT: usize = 1 << 20;

/// Runs one decode and returns (elapsed, peak heap growth in bytes, accepted).
fn measure(decode: AnyDecoder, input: &[u8]) -> (Duration, usize, bool) {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let t0 = Instant::now();
    let ok = decode(input).is_ok();
    let dt = t0.elapsed();
    (dt, PEAK.load(Relaxed).saturating_sub(base), ok)
}

fn decoder_index(name: &str) -> usize {
    ALL_DECODERS
        .iter()
        .position(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no decoder {name}"))
}

fn enc<T: rasn::Encode>(v: &T) -> Vec<u8> {
    rasn::aper::encode(v).expect("encode a well-formed value")
}

/// A RIC indication E2AP PDU carrying KPM header and message octets.
fn e2ap_indication(rng: &mut StdRng, header: Vec<u8>, message: Vec<u8>) -> Vec<u8> {
    let ie = |id: u16, value: Vec<u8>| {
        AnonymousRICindicationProtocolIEs::new(
            ProtocolIEID(id),
            Criticality::reject,
            Any::new(value),
        )
    };
    let ies = vec![
        ie(29, enc(&RICrequestID::new(rng.random(), rng.random()))),
        ie(5, enc(&RANfunctionID(rng.random_range(0..=4095)))),
        ie(25, enc(&OctetString::from(header))),
        ie(26, enc(&OctetString::from(message))),
    ];
    let ind = RICindication::new(RICindicationProtocolIEs(ies));
    enc(&E2APPDU::initiatingMessage(InitiatingMessage::new(
        ProcedureCode(5),
        Criticality::ignore,
        Any::new(enc(&ind)),
    )))
}

/// Seeds per decoder (indexed like `ALL_DECODERS`).
fn seeds(rng: &mut StdRng) -> Vec<Vec<Vec<u8>>> {
    let mut s: Vec<Vec<Vec<u8>>> = vec![Vec::new(); ALL_DECODERS.len()];
    for _ in 0..40 {
        let msg = kpm::random_indication_message(rng);
        let period = rng.random_range(1..=u32::MAX);
        let h4 = kpm::random_indication_header(rng, 4);
        let h8 = kpm::random_indication_header(rng, 8);
        s[decoder_index("decode_kpm_v2_indication_message")]
            .push(enc(&e2sm_kpm_v02_03::indication_message(&msg)));
        s[decoder_index("decode_kpm_v3_indication_message")]
            .push(enc(&e2sm_kpm_v03_00::indication_message(&msg)));
        let v4 = enc(&e2sm_kpm_v04_00::indication_message(&msg));
        s[decoder_index("decode_kpm_v4_indication_message")].push(v4.clone());
        s[decoder_index("decode_kpm_v2_indication_header")]
            .push(enc(&e2sm_kpm_v02_03::indication_header(&h4)));
        s[decoder_index("decode_kpm_v3_indication_header")]
            .push(enc(&e2sm_kpm_v03_00::indication_header(&h8)));
        let hv4 = enc(&e2sm_kpm_v04_00::indication_header(&h8));
        s[decoder_index("decode_kpm_v4_indication_header")].push(hv4.clone());
        s[decoder_index("decode_kpm_v2_event_trigger_definition")]
            .push(enc(&e2sm_kpm_v02_03::event_trigger(period)));
        s[decoder_index("decode_kpm_v3_event_trigger_definition")]
            .push(enc(&e2sm_kpm_v03_00::event_trigger(period)));
        s[decoder_index("decode_kpm_v4_event_trigger_definition")]
            .push(enc(&e2sm_kpm_v04_00::event_trigger(period)));
        s[decoder_index("decode_e2ap_pdu")].push(e2ap_indication(rng, hv4, v4));
    }
    if let Some(dir) = common::interop_dir("fuzz (vector seeds only)") {
        for v in common::load(&dir, "srsran.json") {
            let target = match v.type_name.as_deref() {
                Some("E2AP-PDU") => "decode_e2ap_pdu",
                Some("E2SM-RC-ControlHeader") => "decode_rc_control_header",
                Some("E2SM-RC-ControlMessage") => "decode_rc_control_message",
                other => panic!("unmapped srsRAN type {other:?}"),
            };
            s[decoder_index(target)].push(v.bytes);
        }
        for v in common::load(&dir, "onos-e2-sm.json") {
            let id = v.id.rsplit('/').next().unwrap_or_default();
            let target = if id.contains("IndicationHeader") {
                "decode_kpm_v2_indication_header"
            } else if id.starts_with("refPerIndMsg") {
                "decode_kpm_v2_indication_message"
            } else if id.contains("RanFunctionDescription") {
                "decode_kpm_v2_ran_function_description"
            } else if id.starts_with("refPerEventTriggerDefinition") {
                "decode_kpm_v2_event_trigger_definition"
            } else if id.starts_with("refPerADF") {
                "decode_kpm_v2_action_definition"
            } else {
                continue;
            };
            if !v.bytes.is_empty() {
                s[decoder_index(target)].push(v.bytes);
            }
        }
    }
    radio_seeds(rng, &mut s);
    // Decoders with no well-formed seed of their own start from noise and borrowed seeds.
    for list in &mut s {
        if list.is_empty() {
            list.push((0..16).map(|_| rng.random()).collect());
        }
    }
    s
}

/// Format-3 / format-4 / cell radio seeds of the raw KPM decoders (their splices into other
/// decoders' seeds found the nested RAN parameter lists of `decode_rc_control_message`, now
/// pre-scanned: see `hostile_inputs_found_by_fuzzing_stay_within_the_heap_bound`).
fn radio_seeds(rng: &mut StdRng, s: &mut [Vec<Vec<u8>>]) {
    for (v, name) in [
        (KpmVersion::V2_03, "v2"),
        (KpmVersion::V3_00, "v3"),
        (KpmVersion::V4_00, "v4"),
    ] {
        for _ in 0..10 {
            let r = radio::random_ue_report(rng);
            s[decoder_index(&format!("decode_kpm_{name}_indication_message"))]
                .push(encode_ue_indication(&r, v).1);
            s[decoder_index(&format!("decode_kpm_{name}_indication_message"))]
                .push(encode_cell_radio_indication(&radio::random_cell_radio(rng), v).1);
        }
        let c = radio::cell_info();
        s[decoder_index(&format!("decode_kpm_{name}_action_definition"))]
            .push(encode_ue_action_definition(&c, 1000, v));
        s[decoder_index(&format!("decode_kpm_{name}_action_definition"))]
            .push(encode_cell_radio_action_definition(&c, 1000, v));
    }
}

/// Applies one to three random mutations to `buf` (which starts as a copy of a seed).
fn mutate(rng: &mut StdRng, buf: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..rng.random_range(1..=3) {
        let len = buf.len();
        match rng.random_range(0..8) {
            0 if len > 0 => {
                for _ in 0..rng.random_range(1..=4) {
                    let i = rng.random_range(0..len * 8);
                    buf[i / 8] ^= 0x80 >> (i % 8);
                }
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                buf[i] = [0x00, 0xff, 0x80, 0x7f, rng.random()][rng.random_range(0..5)];
            }
            2 if len > 0 => buf.truncate(rng.random_range(0..len)),
            3 if len > 0 => {
                // A length determinant claiming far more than is there: 16383 in two
                // octets, or 4 × 16K fragments, or a whole 0xffff.. run.
                let i = rng.random_range(0..len);
                let huge: &[u8] =
                    [&[0xbf, 0xff][..], &[0xc4], &[0xff, 0xff, 0xff, 0xff]][rng.random_range(0..3)];
                for (k, b) in huge.iter().enumerate() {
                    if i + k < buf.len() {
                        buf[i + k] = *b;
                    }
                }
            }
            4 => {
                let i = rng.random_range(0..=len);
                let n = rng.random_range(1..=8);
                let chunk: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                buf.splice(i..i, chunk);
            }
            5 if !other.is_empty() => {
                let cut = rng.random_range(0..=len);
                let from = rng.random_range(0..other.len());
                buf.truncate(cut);
                buf.extend_from_slice(&other[from..]);
            }
            6 if len > 1 => {
                let a = rng.random_range(0..len);
                let b = rng.random_range(a..len.min(a + 32));
                let dup = buf[a..=b].to_vec();
                buf.splice(b..b, dup);
            }
            _ => {
                buf.clear();
                buf.extend((0..rng.random_range(1..64)).map(|_| rng.random::<u8>()));
            }
        }
    }
}

/// A count from the environment (`_` separators allowed), `default` when unset. A value
/// that does not parse stops the test: silently running the default count instead would
/// report a run that never happened.
fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Err(_) => default,
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|e| panic!("{name}={v:?} is not a count: {e}")),
    }
}

#[derive(Default)]
struct Worst {
    time: Duration,
    time_input: (usize, Vec<u8>),
    peak: usize,
    peak_input: (usize, Vec<u8>),
}

/// The minimum of a few timings of one input: the decoder's own cost, not a preemption.
fn retime(decode: AnyDecoder, input: &[u8]) -> Duration {
    (0..5)
        .map(|_| measure(decode, input).0)
        .min()
        .unwrap_or_default()
}

#[test]
fn every_network_decoder_survives_ten_million_mutated_inputs() {
    let _turn = serial();
    let total: u64 = env_u64("E2_FUZZ_INPUTS", 10_000_000);
    let seed: u64 = env_u64("E2_FUZZ_SEED", 0x5eed_e2a9);
    let mut rng = StdRng::seed_from_u64(seed);
    let corpus = seeds(&mut rng);
    let all: Vec<&Vec<u8>> = corpus.iter().flatten().collect();

    // Deterministic hostile cases first: every seed with a huge length at every position.
    let mut worst = Worst::default();
    let mut accepted = vec![0u64; ALL_DECODERS.len()];
    let mut fed = vec![0u64; ALL_DECODERS.len()];
    let panics_before = caught_panics();
    let mut buf = Vec::with_capacity(4096);
    let started = Instant::now();
    let mut n = 0u64;
    let record = |idx: usize, input: &[u8], w: &mut Worst, acc: &mut [u64], fed: &mut [u64]| {
        let (dt, peak, ok) = measure(ALL_DECODERS[idx].1, input);
        fed[idx] += 1;
        acc[idx] += u64::from(ok);
        if dt > w.time {
            w.time = dt;
            w.time_input = (idx, input.to_vec());
        }
        if peak > w.peak {
            w.peak = peak;
            w.peak_input = (idx, input.to_vec());
        }
    };
    for (idx, list) in corpus.iter().enumerate() {
        for s in list {
            for i in 0..s.len() {
                for huge in [[0xc4u8, 0x00], [0xbf, 0xff]] {
                    buf.clear();
                    buf.extend_from_slice(s);
                    buf[i] = huge[0];
                    if i + 1 < buf.len() {
                        buf[i + 1] = huge[1];
                    }
                    record(idx, &buf, &mut worst, &mut accepted, &mut fed);
                    n += 1;
                }
            }
        }
    }
    while n < total {
        let idx = (n as usize) % ALL_DECODERS.len();
        let own = &corpus[idx];
        let (seed_bytes, other) = if rng.random_bool(0.75) {
            (
                &own[rng.random_range(0..own.len())],
                all[rng.random_range(0..all.len())],
            )
        } else {
            (
                all[rng.random_range(0..all.len())],
                &own[rng.random_range(0..own.len())],
            )
        };
        buf.clear();
        buf.extend_from_slice(seed_bytes);
        mutate(&mut rng, &mut buf, other);
        record(idx, &buf, &mut worst, &mut accepted, &mut fed);
        n += 1;
    }
    let elapsed = started.elapsed();
    let panics = caught_panics() - panics_before;

    let rate = n as f64 / elapsed.as_secs_f64();
    println!(
        "fuzz: {n} inputs in {:.1} s ({rate:.0}/s), seed {seed:#x}, {} seeds",
        elapsed.as_secs_f64(),
        all.len()
    );
    for (i, (name, _)) in ALL_DECODERS.iter().enumerate() {
        println!("fuzz: {name}: {} fed, {} decoded", fed[i], accepted[i]);
    }
    let (t_idx, t_input) = &worst.time_input;
    let t_again = retime(ALL_DECODERS[*t_idx].1, t_input);
    println!(
        "fuzz: slowest input {:?} (re-timed {:?}) on {} ({} octets): {}",
        worst.time,
        t_again,
        ALL_DECODERS[*t_idx].0,
        t_input.len(),
        hex::encode(&t_input[..t_input.len().min(64)])
    );
    let (p_idx, p_input) = &worst.peak_input;
    println!(
        "fuzz: peak heap growth {} bytes on {} ({} octets): {}",
        worst.peak,
        ALL_DECODERS[*p_idx].0,
        p_input.len(),
        hex::encode(&p_input[..p_input.len().min(64)])
    );
    println!("fuzz: decoder panics caught: {panics}");

    assert_eq!(
        panics, 0,
        "decoders panicked {panics} times (caught in e2_asn1::decode)"
    );
    assert!(
        t_again < MAX_TIME_PER_INPUT,
        "slowest input took {t_again:?}"
    );
    assert!(
        worst.peak < MAX_PEAK_PER_INPUT,
        "an input grew the heap by {} bytes",
        worst.peak
    );
    assert!(n >= total);
    // The mutations reach past the first octets: well-formed seeds of the main decoders
    // still decode after mutation some of the time.
    for name in ["decode_e2ap_pdu", "decode_kpm_v4_indication_message"] {
        assert!(
            accepted[decoder_index(name)] > 0,
            "{name} never accepted a mutated input"
        );
    }
}

/// A format-1 E2SM-RC control message found by the fuzzer (a KPM seed spliced into an RC
/// one): nested RAN parameter lists whose claimed counts rasn reserved, each capped only by
/// the input left in bits, one reservation per open level: 1.86 MB before the decode failed.
const RC_MESSAGE_NESTED_LISTS: &[&str] = &[
    "00010108002100c05252552e50726255736564446c0120000000d05252552e507262417661696c446c012000",
    "000120434152522e5742435149446973742e42696e30012000000120434152522e5742435149446973742e42",
    "696e31012000000120434152522e5742435149446973742e42696e320120000001742e42696e320120000001",
    "2020434152522e5742435149446973742e42696e33012000000120434152522e5742435149446973742e4269",
    "6e34012000000120434152522e5742435149446973742e42696e35012000000120434152522e574243514944",
    "6973742e42696e36012000000120434152522e5742435149446973742e42696e37012000000120434152522e",
    "5742435149446973742e42696e38012000000120434152522e5742435149446973742e42696e390120000001",
    "30434152522e5742435149446973742e42696e3130012000000130434152522e5742435149446973742e4269",
    "6e3131012000000130434152522e5742435149446973742e42696e3132012000000130434152522e57424351",
    "49446973742e42696e3133012000000130434152522e5742435149446973742e42696e313401200000013043",
    "4152522e5742435149446973742e42696e31350120000000f04c314d2e53532d525352502e42696e30012000",
    "0000f04c314d2e53532d525352502e42696e310120000000f04c314d2e53532d525352502e42696e32012000",
    "0000f04c314d2e53532d525352502e42696e330120000000f04c314d2e53532d525352502e42696e34012000",
    "0000f04c314d2e53532d525352502e42696e350120000000f04c314d2e53532d2d52525352502e42696e3601",
    "20000000f04c314d2e53532d525352502e42696e370120000000f04c314d2e53532d525352502e42696e3801",
    "20000000f04c314d2e53532d525352502e42696e390120000001004c314d2e53532d525352502e42696e3130",
    "0120000001004c314d2e53532d525352502e42696e31310120000001004c314d2e53532d525352502e42696e",
    "31320120000001004c314d2e53532d525352502e42696e31330120000001004c314d2e53532d525352502e42",
    "696e31340120000001004c314d2e53532d525352502e42696e3135012000004003e70000f1100000019b10",
];

/// Inputs that once grew the heap past the bound, each decoded once under the counting
/// allocator. The RC control header (16 octets, a UEID whose lists claim 64K fragments) and
/// the RAN function description of the older reports measure a few hundred bytes with the
/// rasn here, which caps every reservation by the input left; they stay as regressions.
#[test]
fn hostile_inputs_found_by_fuzzing_stay_within_the_heap_bound() {
    let _turn = serial();
    let cases = [
        (
            "decode_rc_control_message",
            RC_MESSAGE_NESTED_LISTS.concat(),
        ),
        (
            "decode_rc_control_header",
            "00000000c400f1100000000102000005".to_string(),
        ),
    ];
    for (name, hex_input) in cases {
        let input = hex::decode(&hex_input).expect("hex");
        let (_, peak, _) = measure(ALL_DECODERS[decoder_index(name)].1, &input);
        assert!(
            peak < MAX_PEAK_PER_INPUT,
            "{name}: {} octets grew the heap by {peak} bytes",
            input.len()
        );
    }
    // Refused by the pre-scan, which reserves nothing for the claimed counts, with rasn's
    // reason (the lists are cut short).
    let input = hex::decode(RC_MESSAGE_NESTED_LISTS.concat()).expect("hex");
    let e = e2_asn1::decode::decode_rc_control_message(&input).unwrap_err();
    assert_eq!(e.kind(), "invalid_aper", "{e}");
}

/// Random well-formed UE-level and cell radio reports (seeds).
mod radio {
    use nf_core::CellId;
    use nf_core::e2sm::CellInfo;
    use nf_core::radio::{CellRadio, Neighbour, UeId, UeLevelReport, UeRadio};
    use rand::Rng;
    use rand::rngs::StdRng;

    pub fn cell_info() -> CellInfo {
        CellInfo {
            cell: CellId::new([0x00, 0xf1, 0x10], 0x19b1),
            slices: vec![],
            prb_total_dl: 106,
        }
    }

    fn maybe(rng: &mut StdRng, lo: f32, hi: f32) -> Option<f32> {
        rng.random_bool(0.8).then(|| rng.random_range(lo..hi))
    }

    pub fn random_ue_report(rng: &mut StdRng) -> UeLevelReport {
        let n = rng.random_range(1..6);
        UeLevelReport {
            cell: cell_info().cell,
            collection_start_ms: 1_700_000_000_000 + rng.random_range(0..1_000_000),
            granularity_ms: rng.random_range(1..5000),
            ues: (0..n)
                .map(|i| UeRadio {
                    ue: UeId(rng.random_range(0..=UeId::MAX) ^ i),
                    rsrp_dbm: maybe(rng, -150.0, -40.0),
                    rsrq_db: maybe(rng, -40.0, 0.0),
                    sinr_db: maybe(rng, -20.0, 40.0),
                    cqi: rng
                        .random_bool(0.8)
                        .then(|| rng.random_range(0..=15) as f32),
                    thp_dl_kbps: maybe(rng, 0.0, 1e6),
                    prb_used_dl: rng
                        .random_bool(0.8)
                        .then(|| rng.random_range(0..=273) as f32),
                    neighbour: rng.random_bool(0.7).then(|| Neighbour {
                        cell: CellId::new(
                            [0x00, 0xf1, 0x10],
                            rng.random_range(0..=CellId::MAX_NCI),
                        ),
                        rsrp_dbm: rng.random_range(-150.0..-40.0),
                        rsrq_db: maybe(rng, -40.0, 0.0),
                    }),
                })
                .collect(),
        }
    }

    pub fn random_cell_radio(rng: &mut StdRng) -> CellRadio {
        CellRadio {
            cell: cell_info().cell,
            collection_start_ms: 1_700_000_000_000,
            granularity_ms: 1000,
            prb_used_dl: maybe(rng, 0.0, 273.0),
            prb_avail_dl: Some(273.0),
            cqi_bins: std::array::from_fn(|_| rng.random_range(0..1000)),
            rsrp_bins: std::array::from_fn(|_| rng.random_range(0..1000)),
        }
    }
}

/// The domain decoders of the interference xApp's telemetry and handover control, with
/// the bounds of the test above. `E2_FUZZ_RADIO_INPUTS` inputs (default 400,000).
/// Mutated length determinants in front of format-3 label and UE lists and of format-4
/// subscription info grew the heap by up to 5.8 MB per input: indication messages and
/// action definitions are now pre-scanned without allocating their lists
/// (`e2_asn1::kpm::decoded_bytes_limit`). Run alone:
/// `cargo test -p e2-asn1 --test fuzz -- the_radio`.
#[test]
fn the_radio_domain_decoders_survive_mutated_inputs() {
    let _turn = serial();
    use e2_asn1::kpm::IndicationScope;
    use e2_asn1::kpm::radio::{
        decode_cell_radio_indication, decode_ue_action_definition, decode_ue_indication,
    };
    use nf_core::e2sm::Limits;
    let total: u64 = env_u64("E2_FUZZ_RADIO_INPUTS", 400_000);
    let mut rng = StdRng::seed_from_u64(0x5eed_0a10);
    let scope = IndicationScope {
        cell: radio::cell_info().cell,
        granularity_ms: 1000,
    };
    let limits = Limits::default();
    type Domain = Box<dyn Fn(&[u8]) -> bool>;
    let mut targets: Vec<(String, Domain, Vec<Vec<u8>>)> = Vec::new();
    for v in KpmVersion::ALL {
        let header = e2_asn1::kpm::encode_indication_header(1_700_000_000_000, v);
        let ue_seeds: Vec<Vec<u8>> = (0..20)
            .map(|_| encode_ue_indication(&radio::random_ue_report(&mut rng), v).1)
            .collect();
        let h = header.clone();
        targets.push((
            format!("decode_ue_indication {v}"),
            Box::new(move |b| decode_ue_indication(&h, b, &limits, &scope, v).is_ok()),
            ue_seeds,
        ));
        let cell_seeds: Vec<Vec<u8>> = (0..20)
            .map(|_| encode_cell_radio_indication(&radio::random_cell_radio(&mut rng), v).1)
            .collect();
        targets.push((
            format!("decode_cell_radio_indication {v}"),
            Box::new(move |b| decode_cell_radio_indication(&header, b, &limits, &scope, v).is_ok()),
            cell_seeds,
        ));
        targets.push((
            format!("decode_ue_action_definition {v}"),
            Box::new(move |b| decode_ue_action_definition(b, v).is_ok()),
            vec![encode_ue_action_definition(&radio::cell_info(), 1000, v)],
        ));
    }
    let ho = e2_asn1::rc::HandoverControl::of_ue(
        nf_core::radio::UeId(7),
        &nf_core::CellId::new([0x00, 0xf1, 0x10], 0x19b1),
    )
    .expect("a handover");
    let (ho_h, ho_m) = e2_asn1::rc::encode_handover_control(&ho).expect("encodes");
    targets.push((
        "decode_ue_handover".into(),
        Box::new(move |b| e2_asn1::rc::decode_ue_handover(&ho_h, b).is_ok()),
        vec![ho_m],
    ));
    let all: Vec<Vec<u8>> = targets.iter().flat_map(|t| t.2.clone()).collect();
    let panics_before = caught_panics();
    let mut fed = vec![0u64; targets.len()];
    let mut accepted = vec![0u64; targets.len()];
    let (mut slowest, mut slow_input) = (Duration::ZERO, (0usize, Vec::new()));
    let (mut peak, mut peak_at) = (0usize, String::new());
    let mut buf = Vec::new();
    let started = Instant::now();
    for n in 0..total {
        let idx = (n as usize) % targets.len();
        let (name, decode, seeds) = &targets[idx];
        buf.clear();
        buf.extend_from_slice(&seeds[rng.random_range(0..seeds.len())]);
        // One input in ten goes unmutated, drawn at random: a fixed `n % 10` would pick the
        // same target every time (there are ten), which then never saw a mutated input.
        if !rng.random_ratio(1, 10) {
            let other = rng.random_range(0..all.len());
            mutate(&mut rng, &mut buf, &all[other]);
        }
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        let t0 = Instant::now();
        let ok = decode(&buf);
        let dt = t0.elapsed();
        let grew = PEAK.load(Relaxed).saturating_sub(base);
        fed[idx] += 1;
        accepted[idx] += u64::from(ok);
        if dt > slowest {
            slowest = dt;
            slow_input = (idx, buf.clone());
        }
        if grew > peak {
            peak = grew;
            peak_at = name.clone();
        }
    }
    let (idx, input) = &slow_input;
    let again = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            let _ = targets[*idx].1(input);
            t0.elapsed()
        })
        .min()
        .unwrap_or_default();
    println!(
        "fuzz radio: {total} inputs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (i, (name, _, _)) in targets.iter().enumerate() {
        println!(
            "fuzz radio: {name}: {} fed, {} decoded",
            fed[i], accepted[i]
        );
    }
    println!(
        "fuzz radio: slowest {slowest:?} (re-timed {again:?}) on {}; peak heap growth {peak} bytes on {peak_at}",
        targets[*idx].0
    );
    let panics = caught_panics() - panics_before;
    assert_eq!(panics, 0, "radio decoders panicked {panics} times (caught)");
    assert!(again < MAX_TIME_PER_INPUT, "slowest input took {again:?}");
    assert!(
        peak < MAX_PEAK_PER_INPUT,
        "an input grew the heap by {peak} bytes"
    );
    for (i, (name, _, _)) in targets.iter().enumerate() {
        assert!(accepted[i] > 0, "{name} never accepted an input");
    }
}
