//! Values published to lock-free readers and reclaimed when the last reader lets go: the
//! crate's only `unsafe` code.
//!
//! The protocol is hazard pointers with asymmetric fences (Michael, 2004; Folly's `hazptr`):
//!
//! - A [`Published<T>`] owns the current value: an `Arc<T>` held as a raw pointer.
//! - A reader **protects** it: it writes the pointer into a [`Slot`] that it alone uses, runs
//!   the light barrier, and reads the current pointer again. If that is unchanged, the value
//!   stays alive until the reader's [`Guard`] clears the slot.
//! - [`Published::publish`] swaps in a new value; the old one is **retired**. **Reclaiming** runs
//!   the heavy barrier, reads every slot, and releases the `Arc` of each retired value that no
//!   slot holds. Dropping a guard of a retired value reclaims again, so a value goes as soon as
//!   its last reader does.
//!
//! # Invariants
//! 1. `current` is null or a pointer from `Arc::into_raw` that owns one strong count, and so is
//!    every pointer in `retired`. Only [`Published::publish`] stores pointers (it takes an
//!    `Arc`), and only [`Published::reclaim`] (and `Drop`, with no guard left) releases them.
//! 2. A slot serves one guard at a time: a thread's own slot ([`Local`]) only when it is clear
//!    (only its owner thread sets it, so a clear slot has no guard), any other slot only after
//!    claiming it (`owned`: false to true).
//! 3. A guard dereferences its pointer only after validating it (slot written, light barrier,
//!    `current` read again and equal), and clears its slot with `Release` when dropped.
//! 4. A retired value is released only if no slot holds it after the heavy barrier. The two
//!    barriers make a Dekker pair of each reader's "write slot, read `current`" and the
//!    reclaimer's "swap `current`, read slots": either the reclaimer sees the slot, or the
//!    reader sees the new pointer and retries. The same pair orders a dropping guard's "clear
//!    slot, read `current`" against it: either the scan sees the slot clear, or the guard sees
//!    its value retired and reclaims.
//!
//! What may keep a replaced value longer than its last reader: a scan that ran while a reader
//! of *another* `Published` held the same address (freed there, reused here) in its slot keeps
//! it until the next `reclaim` (the cache reclaims after every fetch); a `membarrier` that fails
//! (nothing is released until one succeeds); a value whose `Drop` panics during `reclaim` (the
//! rest of that batch is leaked).
//!
//! With Linux's `membarrier(2)` the light barrier is a compiler fence and the heavy barrier a
//! system call that makes every running thread of the process execute a full fence (Folly's
//! `asymmetricHeavyBarrier`). Elsewhere, or if the kernel refuses, both are `SeqCst` fences.
//! The loom model (`tests/loom`) checks the protocol with `SeqCst` fences on both sides.

#![allow(unsafe_code)]

use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::{self, NonNull};
use std::sync::Arc;

#[cfg(secrets_loom)]
use loom::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicPtr, Ordering, fence},
};
#[cfg(not(secrets_loom))]
use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicPtr, Ordering, fence},
};

/// A hazard slot: the pointer one guard protects. Slots are never freed, only reused: there are
/// as many as threads that read at once plus guards held at once beyond one per thread, plus
/// one for each thread that exited while a guard it made was still held on another thread
/// (that slot stays claimed: see `Local`'s `Drop`).
// A cache line (two, for CPUs that fetch lines in pairs) of its own: each reader writes its
// slot on every read, and slots of two threads on one line would make them slow each other down.
#[repr(align(128))]
pub(crate) struct Slot {
    protected: AtomicPtr<()>,
    /// Claimed by a thread (as its own slot) or by a guard.
    owned: AtomicBool,
    /// Claimed by a guard, which gives it back when dropped (else it is a thread's own slot).
    /// Written by the claimer before the slot serves any guard.
    pooled: AtomicBool,
    next: AtomicPtr<Slot>,
    /// Whether readers on this slot use the light barrier (decided before any slot exists).
    asymmetric: bool,
}

impl Slot {
    #[inline(always)]
    fn light_barrier(&self) {
        if self.asymmetric {
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
        } else {
            fence(Ordering::SeqCst);
        }
    }
}

/// Every slot, in a list that only grows.
pub(crate) struct Domain {
    slots: AtomicPtr<Slot>,
}

impl Domain {
    /// An empty domain.
    #[cfg(not(secrets_loom))]
    pub(crate) const fn new() -> Self {
        Self {
            slots: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// An empty domain.
    #[cfg(secrets_loom)]
    pub(crate) fn new() -> Self {
        Self {
            slots: AtomicPtr::new(ptr::null_mut()),
        }
    }

    fn slots(&self) -> impl Iterator<Item = &'static Slot> {
        // SAFETY: the list holds only leaked `Slot`s (see `claim`), never freed; `Acquire`
        // pairs with the `Release` that published each one.
        let first = unsafe { self.slots.load(Ordering::Acquire).as_ref() };
        std::iter::successors(first, |slot| {
            // SAFETY: as above.
            unsafe { slot.next.load(Ordering::Acquire).as_ref() }
        })
    }

    /// A slot for this caller alone, a free one or a new one: for one guard (`pooled`), or as
    /// a thread's own.
    #[cold]
    fn claim(&self, pooled: bool) -> &'static Slot {
        for slot in self.slots() {
            if !slot.owned.load(Ordering::Relaxed)
                && slot
                    .owned
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                slot.pooled.store(pooled, Ordering::Relaxed);
                return slot;
            }
        }
        let slot: &'static Slot = Box::leak(Box::new(Slot {
            protected: AtomicPtr::new(ptr::null_mut()),
            owned: AtomicBool::new(true),
            pooled: AtomicBool::new(pooled),
            next: AtomicPtr::new(ptr::null_mut()),
            asymmetric: barrier::asymmetric(),
        }));
        let mut head = self.slots.load(Ordering::Relaxed);
        loop {
            slot.next.store(head, Ordering::Relaxed);
            match self.slots.compare_exchange_weak(
                head,
                ptr::from_ref(slot).cast_mut(),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return slot,
                Err(now) => head = now,
            }
        }
    }

    /// Whether any slot holds `pointer`.
    fn is_protected(&self, pointer: *mut ()) -> bool {
        self.slots()
            .any(|slot| slot.protected.load(Ordering::Acquire) == pointer)
    }
}

/// A thread's own slot, kept in a thread-local so that a read claims nothing. Not `Sync`: one
/// thread uses it (invariant 2). Dropping it returns the slot, unless a guard still holds it.
pub(crate) struct Local {
    slot: std::cell::Cell<Option<&'static Slot>>,
}

impl Local {
    /// No slot yet: the first read claims one.
    pub(crate) const fn new() -> Self {
        Self {
            slot: std::cell::Cell::new(None),
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            // A guard moved to another thread may still hold it: then the slot stays owned
            // (one slot lost, never a slot shared).
            if slot.protected.load(Ordering::Acquire).is_null() {
                slot.owned.store(false, Ordering::Release);
            }
        }
    }
}

/// A value readers borrow without locks, replaced by [`publish`](Self::publish).
pub(crate) struct Published<T: Send + Sync + 'static> {
    current: AtomicPtr<T>,
    /// Replaced values that a slot may still protect; each owns one strong count.
    retired: Mutex<Vec<Retired<T>>>,
    domain: &'static Domain,
}

/// A pointer from `Arc::into_raw` that owns one strong count.
struct Retired<T>(NonNull<T>);

// SAFETY: a `Retired<T>` is an `Arc<T>` in raw form, which is `Send` when `T: Send + Sync`.
unsafe impl<T: Send + Sync> Send for Retired<T> {}

impl<T: Send + Sync + 'static> Published<T> {
    /// Nothing published yet.
    #[cfg(not(secrets_loom))]
    pub(crate) const fn new(domain: &'static Domain) -> Self {
        Self {
            current: AtomicPtr::new(ptr::null_mut()),
            retired: Mutex::new(Vec::new()),
            domain,
        }
    }

    /// Nothing published yet.
    #[cfg(secrets_loom)]
    pub(crate) fn new(domain: &'static Domain) -> Self {
        Self {
            current: AtomicPtr::new(ptr::null_mut()),
            retired: Mutex::new(Vec::new()),
            domain,
        }
    }

    /// Protects the current value with `local`'s slot (a claimed one if that slot is busy or
    /// `local` is gone); `None` before the first `publish`.
    #[inline(always)]
    pub(crate) fn read(&'static self, local: Option<&Local>) -> Option<Guard<T>> {
        if let Some(local) = local
            && let Some(slot) = local.slot.get()
            // Invariant 2: clear, so no guard uses it, and only this thread sets it. `Acquire`:
            // pairs with the clearing guard's `Release` (it may have been dropped on another
            // thread), so that its reads come before whatever a scan of our next value frees.
            && slot.protected.load(Ordering::Acquire).is_null()
        {
            return self.protect(slot);
        }
        self.read_cold(local)
    }

    #[cold]
    #[inline(never)]
    fn read_cold(&'static self, local: Option<&Local>) -> Option<Guard<T>> {
        if let Some(local) = local
            && local.slot.get().is_none()
        {
            let slot = self.domain.claim(false);
            local.slot.set(Some(slot));
            return self.protect(slot);
        }
        // This thread's slot is busy (a guard is held) or its thread-local is gone.
        self.protect(self.domain.claim(true))
    }

    /// Invariant 3: publishes `slot` as protecting a pointer until that pointer is validated.
    #[inline(always)]
    fn protect(&'static self, slot: &'static Slot) -> Option<Guard<T>> {
        let mut pointer = self.current.load(Ordering::Relaxed);
        let mut retried = false;
        loop {
            let Some(value) = NonNull::new(pointer) else {
                release(slot);
                return None;
            };
            // `Release`: a scan that reads this store also sees everything before it, among
            // which the reads of the guard that used this slot before (loom found the race
            // with `Relaxed`, when a slot passes from one guard to the next).
            slot.protected.store(pointer.cast(), Ordering::Release);
            slot.light_barrier();
            let now = self.current.load(Ordering::Acquire);
            if now == pointer {
                if retried {
                    // A scan may have seen the slot holding a value we then gave up: release
                    // it now rather than at the next publish.
                    self.reclaim();
                }
                return Some(Guard {
                    value,
                    slot: Some(slot),
                    from: self,
                    _owns: PhantomData,
                });
            }
            pointer = now;
            retried = true;
        }
    }

    /// Makes `value` current. The value it replaces is released once no reader protects it.
    pub(crate) fn publish(&'static self, value: Arc<T>) {
        let new = Arc::into_raw(value).cast_mut();
        let old = self.current.swap(new, Ordering::AcqRel);
        if let Some(old) = NonNull::new(old) {
            lock(&self.retired).push(Retired(old));
            self.reclaim();
        }
    }

    /// Whether nothing was published yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.current.load(Ordering::Relaxed).is_null()
    }

    /// Whether `value` is the current value.
    pub(crate) fn is_current(&self, value: &T) -> bool {
        ptr::eq(self.current.load(Ordering::Acquire), value)
    }

    /// How many replaced values a reader still holds.
    pub(crate) fn retained(&self) -> usize {
        lock(&self.retired).len()
    }

    /// Invariant 4: releases every retired value that no slot holds.
    pub(crate) fn reclaim(&self) {
        let released = {
            let mut retired = lock(&self.retired);
            if retired.is_empty() || !barrier::heavy() {
                return;
            }
            let mut released = Vec::new();
            retired.retain(|value| {
                let keep = self.domain.is_protected(value.0.as_ptr().cast());
                if !keep {
                    released.push(Retired(value.0));
                }
                keep
            });
            released
        };
        // Dropped outside the lock: a value's `Drop` may be slow or read this cache again.
        for value in released {
            // SAFETY: invariant 1 (it owns one strong count, taken out of `retired` once).
            drop(unsafe { Arc::from_raw(value.0.as_ptr()) });
        }
    }
}

impl<T: Send + Sync + 'static> Drop for Published<T> {
    fn drop(&mut self) {
        // `load`, not `get_mut`: loom's atomics have no `get_mut` (`&mut self` is exclusive).
        let current = self.current.load(Ordering::Relaxed);
        if !current.is_null() {
            // SAFETY: invariant 1; `&mut self` means no guard borrows from it (guards hold
            // `&'static Published`, so this runs only for non-static ones, as in the model).
            drop(unsafe { Arc::from_raw(current) });
        }
        for value in lock(&self.retired).drain(..) {
            // SAFETY: as above.
            drop(unsafe { Arc::from_raw(value.0.as_ptr()) });
        }
    }
}

/// A reader's access to a published value: it stays alive and unchanged while this lives.
pub(crate) struct Guard<T: Send + Sync + 'static> {
    value: NonNull<T>,
    /// The slot that protects the value; `None`: the guard owns one strong count instead.
    slot: Option<&'static Slot>,
    from: &'static Published<T>,
    _owns: PhantomData<Arc<T>>,
}

// SAFETY: a guard gives `&T` (needs `T: Sync`) and may release the value on another thread
// (needs `T: Send`), like `Arc<T>`; its slot is only cleared, which any thread may do.
unsafe impl<T: Send + Sync> Send for Guard<T> {}
// SAFETY: `&Guard` only reads `T`.
unsafe impl<T: Send + Sync> Sync for Guard<T> {}

impl<T: Send + Sync + 'static> Guard<T> {
    /// Whether this guard's value is still the current one.
    pub(crate) fn is_current(&self) -> bool {
        self.from.is_current(self)
    }

    /// The same value, held by a strong count instead of a slot (for a guard kept for long:
    /// it leaves the slot to other reads).
    pub(crate) fn counted(self) -> Self {
        if self.slot.is_none() {
            self
        } else {
            self.clone()
        }
    }

    /// Keeps the value for the life of the process (one strong count never released).
    pub(crate) fn leak(self) -> &'static T {
        let owned = self.clone();
        std::mem::forget(owned);
        // SAFETY: the forgotten strong count keeps the value alive forever.
        unsafe { self.value.as_ref() }
    }
}

impl<T: Send + Sync + 'static> Deref for Guard<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: invariant 3 (validated and protected) or a strong count keeps it alive.
        unsafe { self.value.as_ref() }
    }
}

impl<T: Send + Sync + 'static> Clone for Guard<T> {
    /// A guard that owns a strong count: it holds no slot, so it may be kept for long.
    fn clone(&self) -> Self {
        // SAFETY: the value came from `Arc::into_raw` and is alive while `self` is.
        unsafe { Arc::increment_strong_count(self.value.as_ptr()) };
        Self {
            value: self.value,
            slot: None,
            from: self.from,
            _owns: PhantomData,
        }
    }
}

impl<T: Send + Sync + 'static> Drop for Guard<T> {
    #[inline(always)]
    fn drop(&mut self) {
        match self.slot {
            None => {
                // SAFETY: this guard owns one strong count of a pointer from `Arc::into_raw`.
                unsafe { Arc::decrement_strong_count(self.value.as_ptr()) };
            }
            Some(slot) => {
                release(slot);
                slot.light_barrier();
                if self.from.current.load(Ordering::Relaxed) != self.value.as_ptr() {
                    // Retired: perhaps this was its last reader (invariant 4).
                    self.from.reclaim();
                }
            }
        }
    }
}

/// Clears a slot (its guard is done with it), and returns a claimed one to the domain.
#[inline(always)]
fn release(slot: &Slot) {
    // Read before the slot is cleared: once it is, its owner thread may exit and give it back,
    // and another claimer take it and set `pooled` for its own guard.
    let pooled = slot.pooled.load(Ordering::Relaxed);
    slot.protected.store(ptr::null_mut(), Ordering::Release);
    if pooled {
        slot.owned.store(false, Ordering::Release);
    }
}

fn lock<V>(mutex: &Mutex<V>) -> impl std::ops::DerefMut<Target = V> + '_ {
    // The list is only pushed to and filtered: a panic elsewhere cannot leave it half-written.
    #[cfg(not(secrets_loom))]
    return mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(secrets_loom)]
    return mutex.lock().unwrap();
}

/// The light and heavy barriers of invariant 4.
mod barrier {
    /// Whether readers may use a compiler fence as their barrier: `membarrier(2)` is
    /// registered, so [`heavy`] can make every running thread execute a full fence.
    #[cfg(all(target_os = "linux", not(secrets_loom)))]
    pub(super) fn asymmetric() -> bool {
        static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *REGISTERED.get_or_init(membarrier::register)
    }

    #[cfg(not(all(target_os = "linux", not(secrets_loom))))]
    pub(super) fn asymmetric() -> bool {
        false
    }

    /// Orders every reader's earlier slot write before this thread's next reads. `false` if
    /// it could not (then nothing may be released).
    pub(super) fn heavy() -> bool {
        super::fence(super::Ordering::SeqCst);
        #[cfg(all(target_os = "linux", not(secrets_loom)))]
        if asymmetric() {
            return membarrier::private_expedited();
        }
        true
    }

    #[cfg(all(target_os = "linux", not(secrets_loom)))]
    mod membarrier {
        use std::ffi::c_int;

        // The command numbers of `membarrier(2)` (linux/membarrier.h).
        const QUERY: c_int = 0;
        const PRIVATE_EXPEDITED: c_int = 1 << 3;
        const REGISTER_PRIVATE_EXPEDITED: c_int = 1 << 4;

        fn call(command: c_int) -> libc::c_long {
            // SAFETY: `membarrier(cmd, flags)` reads no memory of ours; any command number is
            // safe to pass (unknown ones fail with EINVAL).
            unsafe { libc::syscall(libc::SYS_membarrier, command, 0 as c_int) }
        }

        /// Registers the process for private expedited barriers, if the kernel has them.
        pub(super) fn register() -> bool {
            let supported = call(QUERY);
            supported > 0
                && supported & libc::c_long::from(PRIVATE_EXPEDITED) != 0
                && call(REGISTER_PRIVATE_EXPEDITED) == 0
        }

        /// A full fence on every running thread of this process.
        pub(super) fn private_expedited() -> bool {
            let done = call(PRIVATE_EXPEDITED) == 0;
            if !done {
                tracing::warn!(
                    "membarrier(2) failed: replaced secret values are kept instead of freed"
                );
            }
            done
        }
    }
}
