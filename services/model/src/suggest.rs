//! "Did you mean" suggestions for misspelt field and plugin names.

/// The candidate closest to `input` by edit distance (case-insensitive), if it is close enough
/// to be a plausible typo: at most a third of the input's length, and at least 1.
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= limit || (c.to_lowercase().contains(&lower) && !lower.is_empty()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The edit distance between two strings in characters, counting an insertion, a deletion, a
/// substitution or a swap of two neighbours as one edit (optimal string alignment).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["Allocation", "Instance", "Flavor", "Updating"];
        assert_eq!(did_you_mean("Alocation", names), Some("Allocation"));
        assert_eq!(did_you_mean("flavour", names), Some("Flavor"));
        assert_eq!(did_you_mean("zzz", names), None);
        assert_eq!(
            did_you_mean("instance-fil", ["instance-file", "flavor-vanilla"]),
            Some("instance-file")
        );
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("inti", "init"), 1);
    }
}
