// What the operating system says about this CPU: name, cores, caches, instruction-set extensions (Linux: /proc and
// /sys; elsewhere the fields stay empty and the probe measures what it can).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace infera {

struct CpuCache {
  int level = 0;
  int64_t bytes = 0;  // one instance
  int shared_by = 1;  // logical CPUs sharing one instance
};

struct CpuInfo {
  std::string model_name;  // "AMD EPYC 9B45"
  std::string vendor;      // "AuthenticAMD", "GenuineIntel"
  int family = 0, model = 0;
  int logical_cpus = 0;     // those this process may run on
  int physical_cores = 0;   // distinct (package, core) among them
  std::vector<CpuCache> caches;  // data and unified caches, by level
  std::vector<std::string> isa;  // the vector and matrix extensions that matter for inference, /proc/cpuinfo names
  int64_t memory_bytes = 0;      // MemTotal
};

CpuInfo read_cpu_info();

}  // namespace infera
