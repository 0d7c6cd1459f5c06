//! Quotas on a granted scratch directory: bytes written and entries created per run, and
//! descriptors open at once per invocation. `wasi:filesystem/types` is served by wasmtime's
//! own implementation, shadowed here only to count before delegating (`wasi.rs` links it).
//!
//! - **Bytes**: every byte the skill writes counts (`write`, writes through a file's
//!   output stream, growing a file with `set-size`), overwrites included, so the disk a run
//!   can fill is bounded by the quota whatever it does.
//! - **Files**: every entry created (a file opened with `create` that did not exist, a
//!   directory, a link, a symlink) counts for the run.
//! - **Descriptors**: files and directories open at once, and directory listings, which
//!   hold an OS descriptor each; they close when the invocation ends. The quota is kept
//!   well below the process's own descriptor limit (raised at start, `scratch.rs`), so the
//!   runtime's database connections and trace writer always have theirs.
//!
//! Reaching a quota stops the skill (a trap), like any other limit, and the step's reason
//! names it: a skill cannot ignore an error code and go on.

use crate::limits::LimitHit;
pub use crate::scratch_quota::{ScratchQuota, ScratchUsage};
use crate::state::SkillState;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self, ErrorCode, HostDescriptor, HostDirectoryEntryStream,
};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult, StreamResult};

fn stop(slot: &Mutex<Option<LimitHit>>, hit: LimitHit) -> wasmtime::Error {
    let reason = hit.to_string();
    slot.lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert(hit);
    wasmtime::format_err!("{reason}")
}

/// Adds `n` bytes to the run's usage, or stops the skill if that passes the quota.
fn charge_bytes(
    usage: &ScratchUsage,
    max: u64,
    n: u64,
    slot: &Mutex<Option<LimitHit>>,
) -> Result<(), wasmtime::Error> {
    let before = usage.bytes.fetch_add(n, Ordering::Relaxed);
    if before.saturating_add(n) > max {
        return Err(stop(slot, LimitHit::ScratchBytes { limit: max }));
    }
    Ok(())
}

impl SkillState {
    fn charge_file(&mut self) -> FsResult<()> {
        let q = &self.fs;
        let before = q.usage.files.fetch_add(1, Ordering::Relaxed);
        if before + 1 > q.quota.max_files {
            return Err(FsError::trap(stop(
                &q.hit,
                LimitHit::ScratchFiles {
                    limit: q.quota.max_files,
                },
            )));
        }
        Ok(())
    }

    /// Stops the skill if one more descriptor would pass the quota.
    fn open_one(&mut self) -> FsResult<()> {
        if self.fs.open.len() as u64 + 1 > self.fs.quota.max_open {
            return Err(FsError::trap(stop(
                &self.fs.hit,
                LimitHit::OpenDescriptors {
                    limit: self.fs.quota.max_open,
                },
            )));
        }
        Ok(())
    }

    fn counting(&self, inner: DynOutputStream) -> DynOutputStream {
        Box::new(CountingStream {
            inner,
            usage: self.fs.usage.clone(),
            max: self.fs.quota.max_bytes,
            hit: self.fs.hit.clone(),
        })
    }
}

/// A file's output stream that charges every byte written to the run's quota.
struct CountingStream {
    inner: DynOutputStream,
    usage: Arc<ScratchUsage>,
    max: u64,
    hit: Arc<Mutex<Option<LimitHit>>>,
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for CountingStream {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::OutputStream for CountingStream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        charge_bytes(&self.usage, self.max, bytes.len() as u64, &self.hit)
            .map_err(wasmtime_wasi::p2::StreamError::Trap)?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Not shortened to the quota: a guest told "0 bytes writable" would wait forever;
        // a write past the quota stops it instead.
        self.inner.check_write()
    }
}

impl types::Host for SkillState {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        types::Host::convert_error_code(&mut self.filesystem(), err)
    }

    fn filesystem_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        types::Host::filesystem_error_code(&mut self.filesystem(), err)
    }
}

impl HostDescriptor for SkillState {
    async fn advise(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
        len: types::Filesize,
        advice: types::Advice,
    ) -> FsResult<()> {
        HostDescriptor::advise(&mut self.filesystem(), fd, offset, len, advice).await
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        HostDescriptor::sync_data(&mut self.filesystem(), fd).await
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorFlags> {
        HostDescriptor::get_flags(&mut self.filesystem(), fd).await
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorType> {
        HostDescriptor::get_type(&mut self.filesystem(), fd).await
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, size: types::Filesize) -> FsResult<()> {
        // Growing a file fills the disk as writing does.
        let current = HostDescriptor::stat(&mut self.filesystem(), Resource::new_borrow(fd.rep()))
            .await?
            .size;
        if size > current {
            charge_bytes(
                &self.fs.usage,
                self.fs.quota.max_bytes,
                size - current,
                &self.fs.hit,
            )
            .map_err(FsError::trap)?;
        }
        HostDescriptor::set_size(&mut self.filesystem(), fd, size).await
    }

    async fn set_times(
        &mut self,
        fd: Resource<Descriptor>,
        atim: types::NewTimestamp,
        mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        HostDescriptor::set_times(&mut self.filesystem(), fd, atim, mtim).await
    }

    async fn read(
        &mut self,
        fd: Resource<Descriptor>,
        len: types::Filesize,
        offset: types::Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        HostDescriptor::read(&mut self.filesystem(), fd, len, offset).await
    }

    async fn write(
        &mut self,
        fd: Resource<Descriptor>,
        buf: Vec<u8>,
        offset: types::Filesize,
    ) -> FsResult<types::Filesize> {
        charge_bytes(
            &self.fs.usage,
            self.fs.quota.max_bytes,
            buf.len() as u64,
            &self.fs.hit,
        )
        .map_err(FsError::trap)?;
        HostDescriptor::write(&mut self.filesystem(), fd, buf, offset).await
    }

    async fn read_directory(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<types::DirectoryEntryStream>> {
        self.open_one()?;
        let listed = HostDescriptor::read_directory(&mut self.filesystem(), fd).await?;
        self.fs.open.insert((true, listed.rep()));
        Ok(listed)
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        HostDescriptor::sync(&mut self.filesystem(), fd).await
    }

    async fn create_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        self.charge_file()?;
        HostDescriptor::create_directory_at(&mut self.filesystem(), fd, path).await
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorStat> {
        HostDescriptor::stat(&mut self.filesystem(), fd).await
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::DescriptorStat> {
        HostDescriptor::stat_at(&mut self.filesystem(), fd, path_flags, path).await
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        atim: types::NewTimestamp,
        mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        HostDescriptor::set_times_at(&mut self.filesystem(), fd, path_flags, path, atim, mtim).await
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path_flags: types::PathFlags,
        old_path: String,
        new_descriptor: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        self.charge_file()?;
        HostDescriptor::link_at(
            &mut self.filesystem(),
            fd,
            old_path_flags,
            old_path,
            new_descriptor,
            new_path,
        )
        .await
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        oflags: types::OpenFlags,
        flags: types::DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        self.open_one()?;
        if oflags.contains(types::OpenFlags::CREATE) {
            // A new entry only if it is not there yet (an existing file opened with
            // `create` creates nothing).
            let exists = HostDescriptor::stat_at(
                &mut self.filesystem(),
                Resource::new_borrow(fd.rep()),
                path_flags,
                path.clone(),
            )
            .await
            .is_ok();
            if !exists {
                self.charge_file()?;
            }
        }
        let opened =
            HostDescriptor::open_at(&mut self.filesystem(), fd, path_flags, path, oflags, flags)
                .await?;
        self.fs.open.insert((false, opened.rep()));
        Ok(opened)
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        self.fs.open.remove(&(false, fd.rep()));
        HostDescriptor::drop(&mut self.filesystem(), fd)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        HostDescriptor::readlink_at(&mut self.filesystem(), fd, path).await
    }

    async fn remove_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        HostDescriptor::remove_directory_at(&mut self.filesystem(), fd, path).await
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        HostDescriptor::rename_at(&mut self.filesystem(), fd, old_path, new_fd, new_path).await
    }

    async fn symlink_at(
        &mut self,
        fd: Resource<Descriptor>,
        src_path: String,
        dest_path: String,
    ) -> FsResult<()> {
        self.charge_file()?;
        HostDescriptor::symlink_at(&mut self.filesystem(), fd, src_path, dest_path).await
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        HostDescriptor::unlink_file_at(&mut self.filesystem(), fd, path).await
    }

    fn read_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<DynInputStream>> {
        HostDescriptor::read_via_stream(&mut self.filesystem(), fd, offset)
    }

    fn write_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream = HostDescriptor::write_via_stream(&mut self.filesystem(), fd, offset)?;
        self.wrap(stream)
    }

    fn append_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream = HostDescriptor::append_via_stream(&mut self.filesystem(), fd)?;
        self.wrap(stream)
    }

    async fn is_same_object(
        &mut self,
        a: Resource<Descriptor>,
        b: Resource<Descriptor>,
    ) -> wasmtime::Result<bool> {
        HostDescriptor::is_same_object(&mut self.filesystem(), a, b).await
    }

    async fn metadata_hash(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<types::MetadataHashValue> {
        HostDescriptor::metadata_hash(&mut self.filesystem(), fd).await
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::MetadataHashValue> {
        HostDescriptor::metadata_hash_at(&mut self.filesystem(), fd, path_flags, path).await
    }
}

impl SkillState {
    /// Replaces the output stream behind `stream` with one that counts its bytes.
    fn wrap(&mut self, stream: Resource<DynOutputStream>) -> FsResult<Resource<DynOutputStream>> {
        let inner = self.table.delete(stream).map_err(FsError::trap)?;
        let counted = self.counting(inner);
        self.table.push(counted).map_err(FsError::trap)
    }
}

impl HostDirectoryEntryStream for SkillState {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<types::DirectoryEntryStream>,
    ) -> FsResult<Option<types::DirectoryEntry>> {
        HostDirectoryEntryStream::read_directory_entry(&mut self.filesystem(), stream).await
    }

    fn drop(&mut self, stream: Resource<types::DirectoryEntryStream>) -> wasmtime::Result<()> {
        self.fs.open.remove(&(true, stream.rep()));
        HostDirectoryEntryStream::drop(&mut self.filesystem(), stream)
    }
}
