//! A list made of shared parts. The merged state holds each instance's backup lists as the
//! instance produced them: merging five 5,000-entry lists copies five pointers instead of
//! 25,000 entries (about ten strings each) every time one instance re-reads its backups, and
//! the fleet's backups are held once in memory, not once per instance and again merged.

use serde::ser::{Serialize, SerializeSeq, Serializer};
use std::ops::{Index, IndexMut};
use std::sync::Arc;

#[derive(Debug)]
pub struct Parts<T> {
    parts: Vec<Arc<Vec<T>>>,
}

type PartsIter<'a, T> = std::iter::FlatMap<
    std::slice::Iter<'a, Arc<Vec<T>>>,
    std::slice::Iter<'a, T>,
    fn(&'a Arc<Vec<T>>) -> std::slice::Iter<'a, T>,
>;

impl<T> Parts<T> {
    pub fn iter(&self) -> PartsIter<'_, T> {
        self.parts.iter().flat_map(|p| p.iter())
    }

    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(|p| p.is_empty())
    }

    /// Appends `other`'s entries by sharing its parts (nothing is copied).
    pub fn extend_shared(&mut self, other: &Parts<T>) {
        self.parts
            .extend(other.parts.iter().filter(|p| !p.is_empty()).cloned());
    }

    /// The part holding entry `i`, and the index within it.
    fn locate(&self, mut i: usize) -> Option<(usize, usize)> {
        for (k, p) in self.parts.iter().enumerate() {
            if i < p.len() {
                return Some((k, i));
            }
            i -= p.len();
        }
        None
    }
}

impl<T: Clone> Parts<T> {
    /// Appends one entry (copying the last part first if it is shared).
    pub fn push(&mut self, item: T) {
        match self.parts.last_mut() {
            Some(p) => Arc::make_mut(p).push(item),
            None => self.parts.push(Arc::new(vec![item])),
        }
    }

    pub fn pop(&mut self) -> Option<T> {
        let p = self.parts.iter_mut().rev().find(|p| !p.is_empty())?;
        Arc::make_mut(p).pop()
    }
}

impl<T> Default for Parts<T> {
    fn default() -> Self {
        Parts { parts: Vec::new() }
    }
}

impl<T> Clone for Parts<T> {
    fn clone(&self) -> Self {
        Parts {
            parts: self.parts.clone(),
        }
    }
}

/// Equal when the entries are, whatever the split into parts.
impl<T: PartialEq> PartialEq for Parts<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T> From<Vec<T>> for Parts<T> {
    fn from(v: Vec<T>) -> Self {
        Parts {
            parts: if v.is_empty() {
                Vec::new()
            } else {
                vec![Arc::new(v)]
            },
        }
    }
}

impl<T> Index<usize> for Parts<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        match self.locate(i) {
            Some((k, j)) => &self.parts[k][j],
            None => panic!("index {i} out of range for {} entries", self.len()),
        }
    }
}

impl<T: Clone> IndexMut<usize> for Parts<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        match self.locate(i) {
            Some((k, j)) => &mut Arc::make_mut(&mut self.parts[k])[j],
            None => panic!("index {i} out of range for {} entries", self.len()),
        }
    }
}

impl<'a, T> IntoIterator for &'a Parts<T> {
    type Item = &'a T;
    type IntoIter = PartsIter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// One flat JSON array, exactly as a `Vec<T>` with the same entries.
impl<T: Serialize> Serialize for Parts<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for item in self {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_behave_as_one_list() {
        let a: Parts<u32> = vec![1, 2].into();
        let b: Parts<u32> = vec![3].into();
        let mut all = Parts::default();
        all.extend_shared(&a);
        all.extend_shared(&Parts::default());
        all.extend_shared(&b);
        assert_eq!(all.len(), 3);
        assert_eq!(all.iter().copied().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(all[2], 3);
        assert_eq!(serde_json::to_string(&all).unwrap(), "[1,2,3]");
        assert_eq!(
            all,
            Parts::from(vec![1, 2, 3]),
            "equality ignores the split"
        );
        // Shared, not copied; writing through the merged list leaves the parts alone.
        assert!(Arc::ptr_eq(&all.parts[0], &a.parts[0]));
        all[0] = 9;
        all.push(4);
        assert_eq!(all.iter().copied().collect::<Vec<_>>(), [9, 2, 3, 4]);
        assert_eq!(a.iter().copied().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(b.iter().copied().collect::<Vec<_>>(), [3]);
        assert_eq!(all.pop(), Some(4));
        assert!(Parts::<u32>::default().is_empty());
        assert_eq!(
            serde_json::to_string(&Parts::<u32>::default()).unwrap(),
            "[]"
        );
    }
}
