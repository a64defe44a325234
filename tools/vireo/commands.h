// The subcommands of the `vireo` command line, one file each. Each adds itself to the top-level CLI11
// app and returns what to run when it was the one given.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace vireo::cli {

struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;  // the exit code
};

Subcommand add_train_command(CLI::App& vireo);  // train.cpp
Subcommand add_eval_command(CLI::App& vireo);   // eval.cpp
Subcommand add_info_command(CLI::App& vireo);   // info.cpp
Subcommand add_sample_command(CLI::App& vireo); // sample.cpp
Subcommand add_bench_command(CLI::App& vireo);  // bench.cpp
Subcommand add_steer_command(CLI::App& vireo);  // steer.cpp
Subcommand add_robustness_command(CLI::App& vireo);  // robustness.cpp
Subcommand add_report_command(CLI::App& vireo);      // report.cpp
Subcommand add_bias_features_command(CLI::App& steer);  // steer_bias_features.cpp (under steer)

}  // namespace vireo::cli
