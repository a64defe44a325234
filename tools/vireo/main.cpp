// vireo: the command line of the framework.
//
//   vireo train RECIPE [key=value …]   train from a YAML recipe (training/recipes/), with overrides
//   vireo eval CHECKPOINT [key=value …] test accuracy of a checkpoint's model
//   vireo sample CHECKPOINT [options]  images from a DDPM checkpoint into a PNG grid (JSON line on stdout)
//   vireo info                         version, build, threads, CPU features, CUDA devices
//   vireo bench --model M | --gemm N   a timed training step (or SGEMM) as one JSON line (tools/bench)
//   vireo steer fit|apply …            fit an intervention (AurA, AcT, LinEAS), apply it (steer.cpp)
//   vireo robustness CHECKPOINT […]    ROC AUC per subgroup under graded perturbations (robustness.cpp)
//   vireo report RUN_DIR… -o FILE      a self-contained HTML report of runs (report.cpp)
//   vireo steer bias-features …        diffusion bias features of a DDPM UNet (steer_bias_features.cpp)
//
// Every failure is one line on stderr — "vireo: error: recipe.yaml:12: unknown key optimizer.lrr (did
// you mean lr?)" — and a non-zero exit code: 1 for a refused input (a vireo::Error), 2 for a command line
// that does not parse.
#include <cstdio>
#include <string>
#include <vector>

#include "engine/error.h"
#include "ssl/ssl_task.h"
#include "tools/vireo/commands.h"

namespace {

// Edit distance, to suggest the subcommand a typo meant.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// CLI11 messages can span lines; an error is one line.
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

int error(const std::string& message, int code) {
  std::fprintf(stderr, "vireo: error: %s\n", one_line(message).c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  vireo::ssl::register_tasks();  // task: ssl in recipes (the trainer's registry, training/task_registry.h)
  CLI::App app{"Vireo: train, evaluate and sample vision models from YAML recipes.", "vireo"};
  app.require_subcommand(1);
  app.fallthrough(false);
  const std::vector<vireo::cli::Subcommand> subcommands = {
      vireo::cli::add_train_command(app), vireo::cli::add_eval_command(app), vireo::cli::add_sample_command(app),
      vireo::cli::add_info_command(app), vireo::cli::add_bench_command(app), vireo::cli::add_steer_command(app),
      vireo::cli::add_robustness_command(app), vireo::cli::add_report_command(app)};

  // An unknown subcommand is named with a suggestion, rather than CLI11's "arguments were not expected".
  if (argc > 1 && argv[1][0] != '-') {
    const std::string given = argv[1];
    bool known = false;
    std::string suggestion;
    size_t best = 3;
    for (const auto& subcommand : subcommands) {
      known = known || subcommand.app->get_name() == given;
      const size_t distance = edit_distance(given, subcommand.app->get_name());
      if (distance < best) {
        best = distance;
        suggestion = subcommand.app->get_name();
      }
    }
    if (!known)
      return error("unknown command '" + given + "'" + (suggestion.empty() ? "" : " (did you mean " + suggestion + "?)") +
                       "; commands: train, eval, sample, info, bench, steer, robustness, report (see vireo --help)",
                   2);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& parse_error) {
    if (parse_error.get_exit_code() == 0) return app.exit(parse_error);  // --help
    return error(std::string(parse_error.what()) + " (see vireo --help)", 2);
  }

  try {
    for (const auto& subcommand : subcommands)
      if (subcommand.app->parsed()) return subcommand.run();
    return error("no command given (see vireo --help)", 2);
  } catch (const vireo::Error& failure) {
    return error(failure.what(), 1);
  } catch (const std::exception& failure) {
    return error(std::string("unexpected failure: ") + failure.what(), 1);
  }
}
