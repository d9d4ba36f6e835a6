//! Which live controller should own a group: rendezvous (highest random weight) hashing. Every
//! controller computes the same answer from the same set of live controllers, with no message
//! exchanged; when a controller joins or leaves, only the groups it wins or held move.

/// The controller among `live` that should own `group` (`None` when none is live).
pub fn owner_of<'a>(group: &str, live: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    live.into_iter().max_by_key(|c| (weight(c, group), *c))
}

/// A stable 64-bit weight of (controller, group): FNV-1a, then a splitmix64 finalizer so
/// similar names spread. Stable across builds and platforms (std's hasher is not).
fn weight(controller: &str, group: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in controller.bytes().chain([0u8]).chain(group.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn spread(groups: usize, live: &[&str]) -> HashMap<String, usize> {
        let mut n = HashMap::new();
        for g in 0..groups {
            let o = owner_of(&format!("group-{g}"), live.iter().copied()).unwrap();
            *n.entry(o.to_string()).or_default() += 1;
        }
        n
    }

    #[test]
    fn groups_spread_over_the_live_controllers() {
        let n = spread(30, &["a", "b", "c"]);
        assert_eq!(n.len(), 3, "{n:?}");
        assert!(n.values().all(|&k| (5..=15).contains(&k)), "{n:?}");
        let n = spread(3000, &["ctl-1", "ctl-2", "ctl-3"]);
        assert!(n.values().all(|&k| (900..=1100).contains(&k)), "{n:?}");
    }

    #[test]
    fn a_joining_controller_takes_only_groups_it_wins_and_a_leaving_one_gives_only_its_own() {
        let before: Vec<String> = (0..300)
            .map(|g| owner_of(&format!("g{g}"), ["a", "b"]).unwrap().to_string())
            .collect();
        for (g, old) in before.iter().enumerate() {
            let three = owner_of(&format!("g{g}"), ["a", "b", "c"]).unwrap();
            assert!(
                three == old || three == "c",
                "g{g} moved from {old} to {three}"
            );
            let without_b = owner_of(&format!("g{g}"), ["a", "c"]).unwrap();
            if three != "b" {
                assert_eq!(without_b, three, "g{g} left a controller that stayed");
            }
        }
        assert_eq!(owner_of("g", std::iter::empty()), None);
    }

    #[test]
    fn the_answer_does_not_depend_on_the_order_of_the_controllers() {
        for g in 0..100 {
            let g = format!("g{g}");
            assert_eq!(owner_of(&g, ["x", "y", "z"]), owner_of(&g, ["z", "x", "y"]));
        }
    }
}
