// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Placing a cluster's ids for a drawing: which ids to show when there are too many,
//! and where each goes (a force-directed layout, deterministic: the same cluster is
//! always drawn the same).

/// A node's value and type.
type Id = (String, String);
/// A link between two nodes (indexes) and whether it is a bridge.
type Link = (usize, usize, bool);

/// At most `cap` of `ids`, those with the most links (ties by value and type), and the
/// links between them, renumbered.
pub(super) fn best_connected(ids: Vec<Id>, links: Vec<Link>, cap: usize) -> (Vec<Id>, Vec<Link>) {
    if ids.len() <= cap {
        return (ids, links);
    }
    let mut degree = vec![0usize; ids.len()];
    for &(a, b, _) in &links {
        degree[a] += 1;
        degree[b] += 1;
    }
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&x, &y| degree[y].cmp(&degree[x]).then_with(|| ids[x].cmp(&ids[y])));
    order.truncate(cap);
    let mut new_index = vec![usize::MAX; ids.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let kept_links = links
        .into_iter()
        .filter(|&(a, b, _)| new_index[a] != usize::MAX && new_index[b] != usize::MAX)
        .map(|(a, b, bridge)| (new_index[a], new_index[b], bridge))
        .collect();
    let kept_ids = order.iter().map(|&old| ids[old].clone()).collect();
    (kept_ids, kept_links)
}

/// Positions in the unit square for `n` nodes joined by `links`: Fruchterman and
/// Reingold's spring layout from a circle, a fixed number of rounds.
pub(super) fn positions(n: usize, links: &[Link]) -> Vec<(f64, f64)> {
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        return vec![(0.5, 0.5)];
    }
    let mut at: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let angle = i as f64 / n as f64 * std::f64::consts::TAU;
            (0.5 + 0.4 * angle.cos(), 0.5 + 0.4 * angle.sin())
        })
        .collect();
    let k = (1.0 / n as f64).sqrt();
    let mut temperature = 0.1;
    for _ in 0..150 {
        let mut moved = vec![(0.0f64, 0.0f64); n];
        for i in 0..n {
            for j in i + 1..n {
                let (dx, dy) = (at[i].0 - at[j].0, at[i].1 - at[j].1);
                let distance = (dx * dx + dy * dy).sqrt().max(1e-6);
                let push = k * k / distance;
                let (fx, fy) = (dx / distance * push, dy / distance * push);
                moved[i].0 += fx;
                moved[i].1 += fy;
                moved[j].0 -= fx;
                moved[j].1 -= fy;
            }
        }
        for &(a, b, _) in links {
            let (dx, dy) = (at[a].0 - at[b].0, at[a].1 - at[b].1);
            let distance = (dx * dx + dy * dy).sqrt().max(1e-6);
            let pull = distance * distance / k;
            let (fx, fy) = (dx / distance * pull, dy / distance * pull);
            moved[a].0 -= fx;
            moved[a].1 -= fy;
            moved[b].0 += fx;
            moved[b].1 += fy;
        }
        for (p, m) in at.iter_mut().zip(&moved) {
            let length = (m.0 * m.0 + m.1 * m.1).sqrt().max(1e-9);
            let step = length.min(temperature);
            p.0 = (p.0 + m.0 / length * step).clamp(0.02, 0.98);
            p.1 = (p.1 + m.1 / length * step).clamp(0.02, 0.98);
        }
        temperature *= 0.97;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_connected_ids_are_kept_with_their_links() {
        let ids: Vec<Id> = (0..5).map(|i| (format!("v{i}"), "t".to_string())).collect();
        // A star on 0, and 3-4.
        let links = vec![(0, 1, false), (0, 2, false), (0, 3, true), (3, 4, false)];
        let (kept, kept_links) = best_connected(ids, links, 2);
        assert_eq!(
            kept,
            vec![("v0".into(), "t".into()), ("v3".into(), "t".into())]
        );
        assert_eq!(kept_links, vec![(0, 1, true)]);
    }

    #[test]
    fn positions_are_in_the_square_and_repeatable() {
        let links: Vec<Link> = (1..30).map(|i| (i - 1, i, false)).collect();
        let first = positions(30, &links);
        assert_eq!(first, positions(30, &links));
        assert!(
            first
                .iter()
                .all(|&(x, y)| (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y))
        );
        assert_eq!(positions(1, &[]), vec![(0.5, 0.5)]);
    }
}
