// SPDX-License-Identifier: Apache-2.0
#include "src/wal/watermark_publisher.h"

#include <sys/uio.h>

namespace shardwal {

Result<std::unique_ptr<WatermarkPublisher>> WatermarkPublisher::Create(FileSystem* fs, const std::string& dir,
                                                                      format::PublishedWatermark w,
                                                                      FileAccess access, std::function<Lsn()> current,
                                                                      const Logger* log) {
  const std::string path = dir + "/" + std::string(format::kWatermarkFileName);
  // Rewritten in place (the previous open's): a tailer's open descriptor
  // and inotify watch stay on the same file.
  auto exists = fs->FileExists(path);
  if (!exists.ok()) return exists.status();
  auto file = *exists ? fs->ReopenWritableFile(path) : fs->NewWritableFile(path, access);
  if (!file.ok()) return file.status();
  std::unique_ptr<WatermarkPublisher> p(new WatermarkPublisher(std::move(*file), w, std::move(current), log));
  p->Write(w.w, 0);
  return p;
}

WatermarkPublisher::WatermarkPublisher(std::unique_ptr<WritableFile> file, format::PublishedWatermark w,
                                       std::function<Lsn()> current, const Logger* log)
    : file_(std::move(file)), last_(w), current_(std::move(current)), log_(log) {}

void WatermarkPublisher::Start() { thread_ = std::thread([this] { Run(); }); }

void WatermarkPublisher::Stop(bool closed) {
  {
    MutexLock lk(&mu_);
    if (stop_ && !thread_.joinable() && file_ == nullptr) return;
    stop_ = true;
    cv_.NotifyOne();
  }
  if (thread_.joinable()) thread_.join();
  if (file_ == nullptr) return;
  Write(current_(), closed ? format::kWatermarkClosed : 0);
  (void)file_->Close();
  file_.reset();
}

void WatermarkPublisher::Run() {
  for (;;) {
    {
      MutexLock lk(&mu_);
      while (!pending_.load(std::memory_order_acquire) && !stop_) cv_.Wait(lk);
      if (stop_) return;
    }
    // Cleared before W is read: an advance after this read sets it again.
    pending_.store(false, std::memory_order_release);
    const Lsn w = current_();
    if (w > last_.w) Write(w, 0);
  }
}

void WatermarkPublisher::Write(Lsn w, std::uint32_t flags) {
  last_.w = w;
  last_.flags = flags;
  char buf[format::kWatermarkBytes];
  format::EncodeWatermark(last_, buf);
  iovec iov{buf, sizeof buf};
  Status s = file_->PWritev(&iov, 1, 0);
  if (!s.ok() && !warned_) {
    warned_ = true;  // once: tailers in other processes stop following, nothing else is affected
    log_->Warn("publishing the watermark for other processes' tailers: {}", s.ToString());
  }
}

}  // namespace shardwal
