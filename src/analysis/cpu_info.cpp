#include "analysis/cpu_info.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sched.h>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

namespace infera {

namespace {

// The extensions kernels dispatch on, in /proc/cpuinfo spelling (x86 "flags", Arm "Features").
const std::vector<std::string> kInterestingFlags = {
    "sse4_2",      "avx",         "avx2",     "fma",      "f16c",     "avx512f",  "avx512bw",
    "avx512vl",    "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16",
    "amx_int8",    "asimd",       "asimddp",  "asimdhp",  "bf16",     "i8mm",     "sve",      "sve2"};

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// "48K", "1024K", "32M" -> bytes; 0 when unreadable.
int64_t parse_size(const std::string& text) {
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    return 0;
  }
  const char suffix = used < text.size() ? text[used] : ' ';
  if (suffix == 'K') return n << 10;
  if (suffix == 'M') return n << 20;
  if (suffix == 'G') return n << 30;
  return n;
}

// "0-3,8,10-11" -> number of CPUs in the list.
int count_cpu_list(const std::string& list) {
  int count = 0;
  std::stringstream ss(list);
  std::string range;
  while (std::getline(ss, range, ',')) {
    const size_t dash = range.find('-');
    try {
      count += dash == std::string::npos ? 1 : std::stoi(range.substr(dash + 1)) - std::stoi(range.substr(0, dash)) + 1;
    } catch (const std::exception&) {
      return count;
    }
  }
  return count;
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  if (cpus.empty())
    for (unsigned cpu = 0; cpu < std::max(1u, std::thread::hardware_concurrency()); ++cpu) cpus.push_back(int(cpu));
  return cpus;
}

int physical_cores(const std::vector<int>& cpus) {
  std::set<std::pair<std::string, std::string>> cores;
  for (int cpu : cpus) {
    const std::string topology = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    cores.insert({read_line(topology + "physical_package_id"), read_line(topology + "core_id")});
  }
  // Without /sys every CPU reads as the same ("", ""): count logical CPUs then.
  return cores.size() == 1 && cores.begin()->second.empty() ? int(cpus.size()) : int(cores.size());
}

std::vector<CpuCache> caches_of(int cpu) {
  std::vector<CpuCache> caches;
  for (int index = 0;; ++index) {
    const std::string dir =
        "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cache/index" + std::to_string(index) + "/";
    const std::string level = read_line(dir + "level");
    if (level.empty()) break;
    if (read_line(dir + "type") == "Instruction") continue;
    CpuCache c;
    c.level = std::atoi(level.c_str());
    c.bytes = parse_size(read_line(dir + "size"));
    c.shared_by = std::max(1, count_cpu_list(read_line(dir + "shared_cpu_list")));
    if (c.level > 0 && c.bytes > 0) caches.push_back(c);
  }
  std::sort(caches.begin(), caches.end(), [](const CpuCache& a, const CpuCache& b) { return a.level < b.level; });
  return caches;
}

// Fields of the first processor in /proc/cpuinfo, and MemTotal from /proc/meminfo.
void read_proc(CpuInfo& info) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(cpuinfo, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) {
      if (line.empty() && !flags.empty()) break;  // end of the first processor
      continue;
    }
    std::string key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name") info.model_name = value;
    else if (key == "vendor_id") info.vendor = value;
    else if (key == "cpu family") info.family = std::atoi(value.c_str());
    else if (key == "model") info.model = std::atoi(value.c_str());
    else if (key == "flags" || key == "Features") {
      std::stringstream ss(value);
      for (std::string flag; ss >> flag;) flags.insert(flag);
    }
  }
  for (const std::string& flag : kInterestingFlags)
    if (flags.count(flag)) info.isa.push_back(flag);

  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    int64_t kib = 0;
    meminfo >> kib;
    if (key == "MemTotal:") {
      info.memory_bytes = kib << 10;
      break;
    }
    meminfo.ignore(1 << 10, '\n');
  }
}

}  // namespace

CpuInfo read_cpu_info() {
  CpuInfo info;
  read_proc(info);
  const std::vector<int> cpus = allowed_cpus();
  info.logical_cpus = int(cpus.size());
  info.physical_cores = physical_cores(cpus);
  info.caches = caches_of(cpus.front());
  return info;
}

}  // namespace infera
