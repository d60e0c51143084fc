//! The store's unit tests: a transaction's own writes and steps, the outbox's order, paging,
//! wiping, and the lock on a store.

use super::*;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("c"), 8 << 20).expect("opens");
    (dir, store)
}

#[test]
fn a_transaction_reads_its_own_writes_and_commits_atomically() {
    let (_dir, store) = store();
    let mut tx = store.begin();
    tx.put("a/1", &1u32).expect("put");
    tx.put("a/2", &2u32).expect("put");
    assert_eq!(tx.get::<u32>("a/1").expect("get"), Some(1));
    assert_eq!(store.view().get::<u32>("a/1").expect("get"), None, "not committed yet");
    tx.accept_step();
    tx.delete("a/1");
    tx.put("a/3", &3u32).expect("put");
    let scanned: Vec<(String, u32)> = tx.scan("a/").expect("scan");
    assert_eq!(scanned, vec![("a/2".into(), 2), ("a/3".into(), 3)]);
    let _ = store.commit(tx).expect("commit");
    assert_eq!(
        store.view().scan::<u32>("a/").expect("scan"),
        vec![("a/2".into(), 2), ("a/3".into(), 3)]
    );
}

/// What the relay is handed: the outbox entries of accepted steps, in id order, with the
/// bytes the store holds — none of a discarded step, nothing outside the outbox.
#[test]
fn a_commit_returns_its_outbox_entries_in_id_order() {
    let (_dir, store) = store();
    let mut tx = store.begin();
    tx.put_raw(key(OUTBOX, &encode_u64(9)), b"nine".to_vec());
    tx.put_raw(key(OUTBOX, &encode_u64(7)), b"seven".to_vec());
    tx.put("state", &1u8).expect("put");
    tx.accept_step();
    tx.put_raw(key(OUTBOX, &encode_u64(8)), b"discarded".to_vec());
    tx.discard_step();
    let committed = store.commit(tx).expect("commit");
    let handed: Vec<(u64, &[u8])> = committed.outbox.iter().map(|(id, v)| (*id, &v[..])).collect();
    assert_eq!(handed, vec![(7, &b"seven"[..]), (9, &b"nine"[..])]);
    let stored: Vec<(u64, Vec<u8>)> = store
        .outbox_from(0, 10)
        .expect("read")
        .into_iter()
        .map(|(id, v)| (id, v.to_vec()))
        .collect();
    assert_eq!(stored, vec![(7, b"seven".to_vec()), (9, b"nine".to_vec())]);
    assert!(store.outbox_holds(8, 10).expect("read"), "9 is in 8..10");
    assert!(!store.outbox_holds(8, 9).expect("read"), "nothing in 8..9");
}

#[test]
fn a_discarded_step_leaves_no_trace() {
    let (_dir, store) = store();
    let mut tx = store.begin();
    tx.put("kept", &1u8).expect("put");
    tx.accept_step();
    tx.put("dropped", &2u8).expect("put");
    tx.discard_step();
    let _ = store.commit(tx).expect("commit");
    assert_eq!(store.view().get::<u8>("kept").expect("get"), Some(1));
    assert_eq!(store.view().get::<u8>("dropped").expect("get"), None);
}

#[test]
fn pages_continue_after_the_cursor_and_stay_in_their_prefix() {
    let (_dir, store) = store();
    let mut tx = store.begin();
    for i in 0..5u8 {
        tx.put(&format!("p/{i}"), &i).expect("put");
    }
    tx.put("q/0", &9u8).expect("put");
    let _ = store.commit(tx).expect("commit");
    let first: Vec<(String, u8)> = store.view().page("p/", None, 2).expect("page");
    assert_eq!(first, vec![("p/0".into(), 0), ("p/1".into(), 1)]);
    let rest: Vec<(String, u8)> = store.view().page("p/", Some("p/1"), 10).expect("page");
    assert_eq!(rest, vec![("p/2".into(), 2), ("p/3".into(), 3), ("p/4".into(), 4)]);
}

#[test]
fn wipe_removes_only_the_named_key_spaces() {
    let (_dir, store) = store();
    let mut tx = store.begin();
    tx.put("x", &1u8).expect("put");
    tx.write_u64(key(WATERMARK, b"c"), 7);
    tx.write_u64(key(REPLAY_MARK, b"c"), 7);
    let _ = store.commit(tx).expect("commit");
    store.wipe(&[STATE, WATERMARK]).expect("wipe");
    assert_eq!(store.view().get::<u8>("x").expect("get"), None);
    assert_eq!(store.read_u64(&key(WATERMARK, b"c")).expect("read"), 0);
    assert_eq!(store.read_u64(&key(REPLAY_MARK, b"c")).expect("read"), 7);
}

#[test]
fn a_second_open_of_the_same_store_is_refused() {
    let (dir, _store) = store();
    let refused = Store::open_within(&dir.path().join("c"), 8 << 20, std::time::Duration::from_millis(50));
    assert!(matches!(refused, Err(StoreError::Locked { .. })), "{refused:?}");
}

#[test]
fn a_store_released_while_opening_is_waited_for() {
    let (dir, store) = store();
    let path = dir.path().join("c");
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(store);
    });
    assert!(
        Store::open(&path, 8 << 20).is_ok(),
        "opened once the first holder let go"
    );
    release.join().expect("released");
}
