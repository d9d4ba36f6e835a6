use super::*;
use std::os::unix::fs::PermissionsExt;
use tonic::Code;

fn fence(group: &str, epoch: u64) -> Fence {
    Fence {
        group: group.to_string(),
        epoch,
    }
}

fn on_disk(path: &Path) -> Epochs {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test]
async fn lower_epochs_are_refused_naming_both_and_equal_or_higher_ones_pass() {
    let d = tempfile::tempdir().unwrap();
    let f = Fences::open_in(d.path()).unwrap();
    f.check(Some(&fence("web", 5))).await.unwrap();
    f.check(Some(&fence("web", 5))).await.unwrap();

    let st = f.check(Some(&fence("web", 3))).await.unwrap_err();
    assert_eq!(st.code(), Code::FailedPrecondition);
    assert_eq!(
        st.message(),
        "group \"web\": epoch 3 is older than epoch 5 already seen: another controller owns \
         this group now; this call was refused"
    );
    assert_eq!(f.refused(), 1);

    f.check(Some(&fence("db", 1))).await.unwrap();
    f.check(Some(&fence("web", 9))).await.unwrap();
    assert!(f.check(Some(&fence("web", 5))).await.is_err());
    assert_eq!(f.refused(), 2);
    assert_eq!((f.epoch("web"), f.epoch("db")), (Some(9), Some(1)));
    assert_eq!(
        on_disk(f.path()),
        Epochs::from([("db".into(), 1), ("web".into(), 9)])
    );
}

#[tokio::test]
async fn no_fence_and_epoch_zero_pass_and_write_nothing() {
    let d = tempfile::tempdir().unwrap();
    let f = Fences::open_in(d.path()).unwrap();
    f.check(None).await.unwrap();
    f.check(Some(&fence("web", 0))).await.unwrap();
    f.check(Some(&fence("", 0))).await.unwrap();
    assert!(!f.path().exists(), "nothing recorded");

    f.check(Some(&fence("web", 4))).await.unwrap();
    f.check(Some(&fence("web", 0))).await.unwrap();
    assert_eq!(f.epoch("web"), Some(4));
    assert_eq!(f.refused(), 0);
}

#[tokio::test]
async fn a_fence_without_a_group_is_an_invalid_argument() {
    let d = tempfile::tempdir().unwrap();
    let f = Fences::open_in(d.path()).unwrap();
    let st = f.check(Some(&fence("", 2))).await.unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
    assert!(st.message().contains("$.fence.group"), "{}", st.message());
    assert_eq!(f.refused(), 0);
}

#[test]
fn epochs_survive_a_reopen_in_a_private_file() {
    let d = tempfile::tempdir().unwrap();
    let f = Fences::open_in(d.path()).unwrap();
    f.check_blocking(Some(&fence("web", 7))).unwrap();
    let path = d.path().join(FILE_NAME);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    drop(f);

    let f = Fences::open(&path).unwrap();
    assert_eq!(f.epoch("web"), Some(7));
    let st = f.check_blocking(Some(&fence("web", 6))).unwrap_err();
    assert_eq!(st.code(), Code::FailedPrecondition);
    assert!(st.message().contains("epoch 6") && st.message().contains("epoch 7"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checks_keep_the_highest_epoch() {
    let d = tempfile::tempdir().unwrap();
    let f = Fences::open_in(d.path()).unwrap();
    let mut tasks = Vec::new();
    // Interleaved so that low and high epochs race.
    for epoch in (1..=40u64).map(|i| if i % 2 == 0 { i } else { 41 - i }) {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            (epoch, f.check(Some(&fence("web", epoch))).await.is_ok())
        }));
    }
    let mut refused = 0;
    for t in tasks {
        let (epoch, passed) = t.await.unwrap();
        if epoch == 40 {
            assert!(passed, "the highest epoch is never refused");
        }
        refused += u64::from(!passed);
    }
    assert_eq!(f.refused(), refused);
    assert_eq!(f.epoch("web"), Some(40));
    assert_eq!(on_disk(f.path()), Epochs::from([("web".into(), 40)]));
    assert_eq!(Fences::open_in(d.path()).unwrap().epoch("web"), Some(40));
}

#[test]
fn a_corrupt_file_is_an_error_naming_it_and_the_fix() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join(FILE_NAME);
    std::fs::write(&path, "{\"web\": ").unwrap();
    let e = Fences::open(&path).unwrap_err();
    assert!(matches!(e, FenceError::Corrupt { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("delete it, but only if no deposed"), "{msg}");
}

#[test]
fn a_failed_write_refuses_the_call_and_records_nothing() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("state");
    let f = Fences::open_in(&dir).unwrap();
    std::fs::remove_dir(&dir).unwrap();
    let st = f.check_blocking(Some(&fence("web", 3))).unwrap_err();
    assert_eq!(st.code(), Code::Unavailable);
    assert!(
        st.message().contains("nothing was done"),
        "{}",
        st.message()
    );
    assert_eq!(f.epoch("web"), None);
}

#[test]
fn opening_removes_only_its_own_leftovers() {
    let d = tempfile::tempdir().unwrap();
    let ours = d
        .path()
        .join(format!(".{FILE_NAME}{}1-2-3", atomic::TEMP_MARK));
    let theirs = d
        .path()
        .join(format!(".labels.json{}1-2-3", atomic::TEMP_MARK));
    std::fs::write(&ours, "x").unwrap();
    std::fs::write(&theirs, "x").unwrap();
    Fences::open_in(d.path()).unwrap();
    assert!(!ours.exists());
    assert!(theirs.exists(), "another file's write may be in flight");
}
