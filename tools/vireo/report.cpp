// vireo report RUN_DIR… -o report.html: one self-contained HTML page of one or more runs — their training
// curves overlaid, and the components their folders' files feed (tools/report/run_report.h).
//
//   vireo report runs/quickstart -o quickstart.html
//   vireo report runs/ssl/byol runs/ssl/byol_k4 -o ema_scaling.html --no-tsne
//
// `vireo train` writes the same report of its run to RUN_DIR/report.html at the end of every run.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tools/report/html.h"
#include "tools/report/run_report.h"
#include "tools/vireo/commands.h"

namespace vireo::cli {
namespace {

struct ReportArguments {
  std::vector<std::string> run_dirs;
  std::string output = "report.html";
  report::RunReportOptions options;
  bool no_tsne = false, no_embedding = false;
};

int run_report(ReportArguments& arguments) {
  const auto start = std::chrono::steady_clock::now();
  arguments.options.tsne = !arguments.no_tsne;
  arguments.options.embedding = !arguments.no_embedding;
  const report::Page page = report::run_report(arguments.run_dirs, arguments.options);
  const std::string html = page.render();
  report::write_text_file(arguments.output, html);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("report: %s (%zu components, %zu left out, %.0f KB, %.1f s)\n", arguments.output.c_str(),
              page.fragments.size(), page.omitted.size(), static_cast<double>(html.size()) / 1024.0, seconds);
  return 0;
}

}  // namespace

Subcommand add_report_command(CLI::App& vireo) {
  auto arguments = std::make_shared<ReportArguments>();
  CLI::App* app = vireo.add_subcommand("report", "Write a self-contained HTML report of one or more run folders");
  app->footer(
      "Components: training curves (every run overlaid), PCA and t-SNE of backbone features, nearest-neighbour\n"
      "images and a confusion matrix (from the first run's checkpoint), DDPM sample grids (samples*.png),\n"
      "steering sweeps (steering_sweep*.json), robustness heat maps (robustness.json) and neuron paths\n"
      "(neuron_paths.json); a component without its file is listed as left out.");
  app->add_option("run_dirs", arguments->run_dirs, "Run folders (written by vireo train)")->required();
  app->add_option("-o,--output", arguments->output, "The HTML file to write");
  app->add_option("--points", arguments->options.embedding_points, "Test images in the embedding (default 500)")
      ->check(CLI::Range(4, 5000));
  app->add_flag("--no-tsne", arguments->no_tsne, "PCA only (t-SNE of 500 points takes about 0.2 s of CPU)");
  app->add_flag("--no-embedding", arguments->no_embedding, "Leave out everything that loads the checkpoint");
  return {app, [arguments] { return run_report(*arguments); }};
}

}  // namespace vireo::cli
