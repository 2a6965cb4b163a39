//! Denying `membarrier(2)` with a seccomp filter, to show that the engine
//! falls back to fences when the kernel refuses membarrier (as container
//! runtimes' default profiles may).
//!
//! The filter is a classic BPF program over `struct seccomp_data`:
//!
//! ```text
//! load arch;  arch != this build's AUDIT_ARCH        → kill the process
//! load nr;    (x86_64) nr has the x32 bit            → kill the process
//!             nr == membarrier                       → fail with `errno`
//!             anything else                          → allow
//! ```
//!
//! Checking the architecture first is what makes the syscall number
//! meaningful (a filter that skips it can be bypassed through another ABI).
//! It is installed with `prctl(PR_SET_NO_NEW_PRIVS)` (required to install a
//! filter without privileges) and `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)`.
//! A filter binds the calling thread and every thread it creates later, so
//! install it at the start of `main`, before any thread exists.

use std::io;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH_THIS: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64: EM_X86_64 | 64-bit | little-endian
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH_THIS: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64: EM_AARCH64 | 64-bit | little-endian

/// The x32 ABI's syscall-number bit (x86_64 only).
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt, jf, k }
}

/// The filter program (see the module docs).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn program(errno: i32) -> Vec<libc::sock_filter> {
    use libc::{BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let arch_offset = std::mem::offset_of!(libc::seccomp_data, arch) as u32;
    let nr_offset = std::mem::offset_of!(libc::seccomp_data, nr) as u32;
    let deny = libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA);
    let kill = libc::SECCOMP_RET_KILL_PROCESS;
    let mut p = vec![
        stmt(BPF_LD | BPF_W | BPF_ABS, arch_offset),
        jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_THIS, 1, 0),
        stmt(BPF_RET | BPF_K, kill),
        stmt(BPF_LD | BPF_W | BPF_ABS, nr_offset),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        use libc::{BPF_JGE, BPF_JMP};
        p.push(jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
        p.push(stmt(BPF_RET | BPF_K, kill));
    }
    p.extend([
        jump(BPF_JMP | BPF_JEQ | BPF_K, libc::SYS_membarrier as u32, 0, 1),
        stmt(BPF_RET | BPF_K, deny),
        stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW),
    ]);
    p
}

/// Installs a filter that makes every later `membarrier(2)` call of this
/// thread and of the threads it creates fail with `errno` (e.g.
/// `libc::EPERM`, `libc::ENOSYS`). Irreversible for the process's threads.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn deny_membarrier(errno: i32) -> io::Result<()> {
    let filter = program(errno);
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut libc::sock_filter };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    if unsafe {
        libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `prog` points to `filter`, a live array of `len` instructions;
    // the kernel copies the program during the call and keeps no pointer.
    if unsafe {
        libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER as libc::c_ulong, &prog as *const libc::sock_fprog)
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// On other architectures the filter's architecture check has no constant.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn deny_membarrier(_errno: i32) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "the membarrier filter knows only x86_64 and aarch64"))
}

/// `membarrier(MEMBARRIER_CMD_QUERY)`: the supported-command mask, or the
/// errno it failed with. Used to check that a filter is in force.
pub fn query_membarrier() -> Result<i64, i32> {
    // SAFETY: membarrier's QUERY command takes integers and touches no memory.
    let r = unsafe { libc::syscall(libc::SYS_membarrier, 0 as libc::c_int, 0 as libc::c_uint, 0 as libc::c_int) };
    if r < 0 {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r)
    }
}
