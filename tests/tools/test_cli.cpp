// The `vireo` program itself (bin/vireo, beside this test): help on every subcommand, info, a run trained
// and evaluated, a run killed with SIGKILL mid-epoch and resumed to the exact metrics of an uninterrupted
// one, and bad inputs each answered by one error line naming the input, a non-zero exit code and no
// checkpoint left behind; vireo steer fitting AurA and LinEAS on a trained ViT, applying and sweeping them;
// vireo robustness writing its AUC matrices.
// vireo steer bias-features through every step on a tiny DDPM.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stb/stb_image_write.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <numeric>
#include <sstream>
#include <thread>

#include "engine/device.h"
#include "steering/intervention.h"
#include "steering/neuron_path.h"
#include "training/checkpoint.h"
#include "training/data_helpers.h"
#include "training/metrics_log.h"
#include "training/run_helpers.h"

extern char** environ;

using vireo::testing::read_text;
using vireo::testing::sibling_binary;
using vireo::testing::TempFolder;
using vireo::testing::write_text;

namespace {

// Starts `vireo args…` with stdout and stderr going to files; returns its process id.
pid_t start_vireo(const std::vector<std::string>& args, const std::string& out_path, const std::string& err_path) {
  const std::string binary = sibling_binary("vireo");
  REQUIRE(std::filesystem::exists(binary));
  std::vector<std::string> storage = {binary};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int status = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(status == 0);
  return pid;
}

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

Outcome run_vireo(const std::vector<std::string>& args, const TempFolder& folder) {
  const pid_t pid = start_vireo(args, folder / "stdout.txt", folder / "stderr.txt");
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return {WEXITSTATUS(status), read_text(folder / "stdout.txt"), read_text(folder / "stderr.txt")};
}

// The program refused the input: a non-zero exit code, exactly one line on stderr that starts with
// "vireo: error: " and names the input (every fragment), and no checkpoint file in `run_dir`.
void check_refused(const std::vector<std::string>& args, const TempFolder& folder,
                   std::initializer_list<const char*> fragments, const std::string& run_dir = "") {
  const Outcome outcome = run_vireo(args, folder);
  INFO("stderr: ", outcome.err);
  CHECK(outcome.exit_code != 0);
  CHECK(outcome.err.rfind("vireo: error: ", 0) == 0);
  CHECK(std::count(outcome.err.begin(), outcome.err.end(), '\n') == 1);
  for (const char* fragment : fragments) CHECK(outcome.err.find(fragment) != std::string::npos);
  if (!run_dir.empty()) CHECK_FALSE(vireo::testing::holds_checkpoint_files(run_dir));
}

// A folder holding a tiny DDPM run trained for one epoch (folder/ddpm/checkpoint.safetensors).
struct DdpmFolder : TempFolder {
  std::string checkpoint;
  explicit DdpmFolder(const std::string& name) : TempFolder(name) {
    write_text(*this / "ddpm.yaml", vireo::testing::tiny_ddpm_recipe(*this / "ddpm", 1));
    const Outcome trained = run_vireo({"train", *this / "ddpm.yaml", "--progress", "none"}, *this);
    INFO(trained.err);
    REQUIRE(trained.exit_code == 0);
    checkpoint = *this / "ddpm/checkpoint.safetensors";
  }
};

// The width and height of a PNG, from its IHDR chunk (bytes 16–23, big-endian).
std::pair<int64_t, int64_t> png_size(const std::string& path) {
  const std::string bytes = read_text(path);
  REQUIRE(bytes.size() > 24);
  const auto number = [&](size_t at) {
    int64_t value = 0;
    for (size_t i = at; i < at + 4; ++i) value = value * 256 + static_cast<unsigned char>(bytes[i]);
    return value;
  };
  return {number(16), number(20)};
}

// A folder holding the tiny recipe (running into folder/run) as folder/tiny.yaml.
struct RecipeFolder : TempFolder {
  std::string recipe, run_dir;
  explicit RecipeFolder(const std::string& name, int64_t epochs = 1) : TempFolder(name) {
    run_dir = *this / "run";
    recipe = *this / "tiny.yaml";
    write_text(recipe, vireo::testing::tiny_resnet_recipe(run_dir, epochs));
  }
};

}  // namespace

// ---- what works ----

TEST_CASE("cli: --help on every subcommand") {
  TempFolder folder("cli_help");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"train", "--help"}, {"eval", "--help"}, {"sample", "--help"}, {"info", "--help"}, {"bench", "--help"},
           {"steer", "fit", "--help"}, {"steer", "apply", "--help"}, {"steer", "sweep", "--help"},
           {"steer", "neuron-path", "--help"}, {"robustness", "--help"},
           {"steer", "bias-features", "--help"}, {"steer", "bias-features", "collect", "--help"},
           {"steer", "bias-features", "train-sae", "--help"}, {"steer", "bias-features", "probe", "--help"},
           {"steer", "bias-features", "locate", "--help"}, {"steer", "bias-features", "generate", "--help"}}) {
    const Outcome outcome = run_vireo(args, folder);
    INFO(args.front());
    CHECK(outcome.exit_code == 0);
    CHECK(outcome.out.find("Usage") != std::string::npos);
  }
  CHECK(run_vireo({"--help"}, folder).out.find("train") != std::string::npos);
  CHECK(run_vireo({"train", "--help"}, folder).out.find("resume=true") != std::string::npos);
  CHECK(run_vireo({"bench", "--help"}, folder).out.find("resnet18_cifar") != std::string::npos);
  CHECK(run_vireo({"--help"}, folder).out.find("sample") != std::string::npos);
  CHECK(run_vireo({"sample", "--help"}, folder).out.find("--classifier") != std::string::npos);
  CHECK(run_vireo({"robustness", "--help"}, folder).out.find("motion_blur") != std::string::npos);
}

TEST_CASE("cli: info reports version build threads CPU features and CUDA devices") {
  TempFolder folder("cli_info");
  const Outcome outcome = run_vireo({"info"}, folder);
  CHECK(outcome.exit_code == 0);
  for (const char* expected : {"vireo 0.", "build)", "threads: ", "CPU features: ", "compiled for: ", "CUDA: "})
    CHECK(outcome.out.find(expected) != std::string::npos);
  // The CUDA lines say what the backend found: a GPU by name, or why there is none.
  CHECK((outcome.out.find("CUDA: cuda:0 ") != std::string::npos ||
         outcome.out.find("CUDA: no usable GPU: ") != std::string::npos ||
         outcome.out.find("CUDA: not built") != std::string::npos));
  // The features listed are those the CPU reports.
  __builtin_cpu_init();
  CHECK((outcome.out.find("AVX-512F") != std::string::npos) == static_cast<bool>(__builtin_cpu_supports("avx512f")));
}

TEST_CASE("cli: train with run.device cuda trains on a GPU or says why it cannot") {
  RecipeFolder folder("cli_train_cuda");
  const Outcome outcome = run_vireo({"train", folder.recipe, "--progress", "lines", "run.device=cuda"}, folder);
  if (vireo::cuda_available()) {
    // On a GPU machine: the tiny recipe trains there and reports its accuracy like a CPU run.
    INFO(outcome.err);
    CHECK(outcome.exit_code == 0);
    CHECK(outcome.out.find("test top1: ") != std::string::npos);
  } else {
    CHECK(outcome.exit_code != 0);
    CHECK(outcome.err.find("CUDA is not usable for cuda:0") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(folder.run_dir + "/checkpoint.safetensors"));
  }
}

TEST_CASE("cli: train writes a run folder and eval reproduces its test accuracy") {
  RecipeFolder folder("cli_train_eval", 2);
  const Outcome trained = run_vireo({"train", folder.recipe, "--progress", "lines", "optimizer.lr=0.04"}, folder);
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  CHECK(trained.out.find("run folder: " + folder.run_dir) != std::string::npos);
  CHECK(trained.out.find("test top1: ") != std::string::npos);
  for (const char* file : {"recipe.resolved.yaml", "metrics.jsonl", "checkpoint.safetensors"})
    CHECK(std::filesystem::exists(folder.run_dir + "/" + file));
  CHECK(read_text(folder.run_dir + "/recipe.resolved.yaml").find("lr: 0.04") != std::string::npos);

  const auto lines = vireo::training::read_metrics(folder.run_dir + "/metrics.jsonl");
  double logged = -1;
  for (const auto& [name, value] : lines.back())
    if (name == "test_top1") logged = value;
  const Outcome evaluated = run_vireo({"eval", folder.run_dir + "/checkpoint.safetensors"}, folder);
  INFO(evaluated.err);
  REQUIRE(evaluated.exit_code == 0);
  char expected[64];
  std::snprintf(expected, sizeof expected, "test top1: %.2f%%", 100.0 * logged);
  CHECK(evaluated.out.find(expected) != std::string::npos);
  CHECK(evaluated.out.find("ema test top1: ") != std::string::npos);
}

TEST_CASE("cli: a run killed with SIGKILL mid-epoch and resumed logs the uninterrupted metrics") {
  TempFolder folder("cli_sigkill");
  // 8 epochs of 24 batches, a line every step, a checkpoint every 10 steps.
  const auto recipe_for = [&](const std::string& run_dir) {
    return vireo::testing::tiny_resnet_recipe(run_dir, 8);
  };
  const std::vector<std::string> shape = {"data.synthetic.train_size=96", "data.batch_size=4", "run.log_every=1",
                                          "run.checkpoint_every=10", "--progress", "none"};
  write_text(folder / "full.yaml", recipe_for(folder / "full"));
  write_text(folder / "killed.yaml", recipe_for(folder / "killed"));
  std::vector<std::string> full_args = {"train", folder / "full.yaml"};
  full_args.insert(full_args.end(), shape.begin(), shape.end());
  REQUIRE(run_vireo(full_args, folder).exit_code == 0);

  std::vector<std::string> killed_args = {"train", folder / "killed.yaml"};
  killed_args.insert(killed_args.end(), shape.begin(), shape.end());
  const pid_t child = start_vireo(killed_args, folder / "child_out.txt", folder / "child_err.txt");
  // Wait until the child has logged step 35 (mid-way through its second epoch, past the checkpoint of
  // step 30), then kill it without warning.
  const std::string metrics = folder / "killed/metrics.jsonl";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool reached = false;
  while (!reached && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    reached = read_text(metrics).find("{\"step\":35,") != std::string::npos;
  }
  REQUIRE(reached);
  REQUIRE(kill(child, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));  // killed, not finished
  const auto partial = vireo::testing::deterministic_metric_lines(metrics);
  const auto complete = vireo::testing::deterministic_metric_lines(folder / "full/metrics.jsonl");
  REQUIRE(partial.size() < complete.size());
  // The checkpoint the killed run left is one of its periodic ones, inside epoch 2 or later.
  const auto position = vireo::training::load_checkpoint(folder / "killed/checkpoint.safetensors").position;
  CHECK(position.step % 10 == 0);
  CHECK(position.step >= 30);
  CHECK(position.batch != 0);  // mid-epoch: 24 batches an epoch

  std::vector<std::string> resume_args = killed_args;
  resume_args.push_back("resume=true");
  const Outcome resumed = run_vireo(resume_args, folder);
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(vireo::testing::deterministic_metric_lines(metrics) == complete);
  for (const auto& entry : std::filesystem::directory_iterator(folder / "killed"))
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
}

// ---- bad inputs: one line naming the input, a non-zero exit code, no checkpoint ----

TEST_CASE("cli refuses: an unknown recipe key with a suggestion") {
  RecipeFolder folder("cli_unknown_key");
  std::string text = read_text(folder.recipe);
  text.replace(text.find("  lr: 0.05"), 10, "  lrr: 0.05");
  write_text(folder.recipe, text);
  check_refused({"train", folder.recipe}, folder, {"tiny.yaml:", "unknown key optimizer.lrr (did you mean lr?)"},
                folder.run_dir);
}

TEST_CASE("cli refuses: a value of the wrong type") {
  RecipeFolder folder("cli_wrong_type");
  check_refused({"train", folder.recipe, "train.epochs=three"}, folder, {"train.epochs", "expected a whole number", "three"},
                folder.run_dir);
}

TEST_CASE("cli refuses: a choice that is not one") {
  RecipeFolder folder("cli_bad_choice");
  std::string text = read_text(folder.recipe);
  text.replace(text.find("name: sgd"), 9, "name: sgdd");
  write_text(folder.recipe, text);
  check_refused({"train", folder.recipe}, folder, {"tiny.yaml:", "optimizer.name", "'sgdd' is not one of"}, folder.run_dir);
}

TEST_CASE("cli refuses: a negative batch size") {
  RecipeFolder folder("cli_negative_batch");
  check_refused({"train", folder.recipe, "data.batch_size=-4"}, folder, {"data.batch_size", "greater than 0", "-4"},
                folder.run_dir);
}

TEST_CASE("cli refuses: a missing recipe file") {
  TempFolder folder("cli_missing_recipe");
  check_refused({"train", folder / "nowhere.yaml"}, folder, {"nowhere.yaml", "cannot read the recipe"});
}

TEST_CASE("cli refuses: a recipe that is not valid YAML") {
  RecipeFolder folder("cli_invalid_yaml");
  write_text(folder.recipe, "run:\n  dir: x\nmodel: {name: resnet18\n");
  check_refused({"train", folder.recipe}, folder, {"tiny.yaml", "not valid YAML"});
}

TEST_CASE("cli refuses: a missing dataset") {
  TempFolder folder("cli_missing_dataset");
  write_text(folder / "tiny.yaml", vireo::testing::tiny_resnet_recipe(folder / "run", 1, "fashion_mnist", ""));
  check_refused({"train", folder / "tiny.yaml", "data.root=/nonexistent"}, folder, {"/nonexistent"}, folder / "run");
}

TEST_CASE("cli refuses: a truncated IDX file") {
  TempFolder folder("cli_truncated_idx");
  write_text(folder / "tiny.yaml", vireo::testing::tiny_resnet_recipe(folder / "run", 1, "fashion_mnist", ""));
  std::filesystem::create_directories(folder / "idx");
  write_text(folder / "idx/train-labels-idx1-ubyte", std::string("\0\0\x08\x01\0\0\0\x02\x01\x02", 10));
  write_text(folder / "idx/train-images-idx3-ubyte", std::string("\0\0\x08\x03\0\0\0\x02\0\0\0\x1c\0\0\0\x1c", 16) +
                                                         std::string(300, '\x10'));
  check_refused({"train", folder / "tiny.yaml", "data.root=" + (folder / "idx")}, folder,
                {"train-images-idx3-ubyte"}, folder / "run");
}

TEST_CASE("cli refuses: a corrupt image in an image folder") {
  TempFolder folder("cli_corrupt_image");
  write_text(folder / "tiny.yaml", vireo::testing::tiny_resnet_recipe(folder / "run", 1, "image_folder", ""));
  for (const char* split : {"train", "test"})
    for (const char* label : {"a", "b"}) {
      const std::string dir = folder / (std::string(split) + "/" + label);
      std::filesystem::create_directories(dir);
      std::vector<unsigned char> pixels(8 * 8 * 3, 100);
      REQUIRE(stbi_write_png((dir + "/0.png").c_str(), 8, 8, 3, pixels.data(), 24));
      REQUIRE(stbi_write_png((dir + "/1.png").c_str(), 8, 8, 3, pixels.data(), 24));
    }
  write_text(folder / "train/a/corrupt.png", "\x89PNG but nothing after");
  check_refused({"train", folder / "tiny.yaml", "data.root=" + folder.path.string(), "model.num_classes=2",
                 "data.batch_size=5"},
                folder, {"corrupt.png"}, folder / "run");
}

TEST_CASE("cli refuses: an unwritable run folder") {
  RecipeFolder folder("cli_unwritable");
  write_text(folder / "plain_file", "a file, not a folder");
  check_refused({"train", folder.recipe, "run.dir=" + (folder / "plain_file/run")}, folder,
                {"plain_file/run", "cannot create the run folder"});
}

TEST_CASE("cli refuses: a corrupt checkpoint with resume=true") {
  RecipeFolder folder("cli_corrupt_checkpoint");
  std::filesystem::create_directories(folder.run_dir);
  write_text(folder.run_dir + "/checkpoint.safetensors", std::string("\x10\0\0\0\0\0\0\0{\"a\":", 13));
  check_refused({"train", folder.recipe, "resume=true"}, folder, {"run/checkpoint.safetensors"});
}

TEST_CASE("cli refuses: a checkpoint from a different model") {
  RecipeFolder folder("cli_other_model");
  REQUIRE(run_vireo({"train", folder.recipe, "--progress", "none"}, folder).exit_code == 0);
  check_refused({"train", folder.recipe, "resume=true", "model.width=0.125"}, folder,
                {"run/checkpoint.safetensors", "model.bn1.bias has shape [4] in the checkpoint but [8]"});
  check_refused({"eval", folder.run_dir + "/checkpoint.safetensors", "model.name=resnet34"}, folder,
                {"run/checkpoint.safetensors", "model.layer1.2.", "is missing from the checkpoint"});
}

TEST_CASE("cli refuses: an override without =") {
  RecipeFolder folder("cli_bad_override");
  check_refused({"train", folder.recipe, "optimizer.lr"}, folder, {"'optimizer.lr' is not an override"}, folder.run_dir);
}

TEST_CASE("cli refuses: an unknown subcommand") {
  TempFolder folder("cli_unknown_command");
  check_refused({"trian", "x.yaml"}, folder, {"unknown command 'trian' (did you mean train?)"});
}

TEST_CASE("cli refuses: an unknown option") {
  RecipeFolder folder("cli_unknown_option");
  check_refused({"train", "--bogus", folder.recipe}, folder, {"--bogus"}, folder.run_dir);
  check_refused({"train"}, folder, {"recipe", "required"});
}

TEST_CASE("cli refuses: an unknown model name") {
  RecipeFolder folder("cli_unknown_model");
  check_refused({"train", folder.recipe, "model.name=resnet19"}, folder,
                {"model.name", "unknown model 'resnet19' (did you mean resnet18?)"}, folder.run_dir);
}

TEST_CASE("cli refuses: an unknown transform") {
  RecipeFolder folder("cli_unknown_transform");
  check_refused({"train", folder.recipe, "data.train_transforms.1.name=random_flip"}, folder,
                {"data.train_transforms.1.name", "unknown transform 'random_flip'"}, folder.run_dir);
}

TEST_CASE("cli refuses: a model option of the wrong type") {
  RecipeFolder folder("cli_model_option");
  check_refused({"train", folder.recipe, "model.stem=3"}, folder, {"model.stem", "must be one of imagenet, cifar"},
                folder.run_dir);
}

TEST_CASE("cli refuses: resume without a checkpoint") {
  RecipeFolder folder("cli_resume_nothing");
  check_refused({"train", folder.recipe, "--resume"}, folder, {"run/checkpoint.safetensors", "no checkpoint"},
                folder.run_dir);
}

TEST_CASE("cli refuses: eval of a file that is not a checkpoint") {
  TempFolder folder("cli_eval_foreign");
  write_text(folder / "model.safetensors", std::string("\x02\0\0\0\0\0\0\0{}", 10));
  check_refused({"eval", folder / "model.safetensors"}, folder, {"model.safetensors", "not a Vireo training checkpoint"});
}

TEST_CASE("cli refuses: bench without a workload and with an unknown one") {
  TempFolder folder("cli_bench_refused");
  check_refused({"bench"}, folder, {"give --model or --gemm"});
  check_refused({"bench", "--model", "resnet19"}, folder, {"--model", "resnet19"});
  check_refused({"bench", "--model", "resnet18_cifar", "--gemm", "64"}, folder, {"excludes"});
  check_refused({"bench", "--model", "resnet18_cifar", "--ms-norm", "--steps", "1"}, folder,
                {"--ms-norm", "no LayerNorm"});
}

// ---- vireo sample ----

TEST_CASE("cli: sample writes a PNG grid of nrow columns and prints its JSON line") {
  DdpmFolder folder("cli_sample");
  const std::string out = folder / "grid.png";
  const Outcome sampled =
      run_vireo({"sample", folder.checkpoint, "--num", "10", "--nrow", "5", "--steps", "5", "--out", out}, folder);
  INFO(sampled.err);
  REQUIRE(sampled.exit_code == 0);
  // 10 images of 8×8 in rows of 5: 2 rows, padding 2 around and between (diffusion/image_grid.h).
  CHECK(png_size(out) == std::pair<int64_t, int64_t>{5 * (8 + 2) + 2, 2 * (8 + 2) + 2});
  const auto line = nlohmann::json::parse(sampled.out);
  CHECK(line["num"] == 10);
  CHECK(line["sampler"] == "ddim");
  CHECK(line["steps"] == 5);
  CHECK(line["ema"] == true);
  CHECK(line["out"] == out);
  CHECK(line["seconds"].get<double>() >= 0.0);
  CHECK(std::count(sampled.out.begin(), sampled.out.end(), '\n') == 1);

  // The same seed draws the same bytes; another seed, other images; DDPM walks all T = 50 steps.
  const std::string again = folder / "again.png", other = folder / "other.png";
  REQUIRE(run_vireo({"sample", folder.checkpoint, "--num", "10", "--nrow", "5", "--steps", "5", "--out", again}, folder)
              .exit_code == 0);
  CHECK(read_text(again) == read_text(out));
  REQUIRE(run_vireo({"sample", folder.checkpoint, "--num", "10", "--nrow", "5", "--steps", "5", "--seed", "1", "--out",
                     other},
                    folder)
              .exit_code == 0);
  CHECK(read_text(other) != read_text(out));
  const Outcome ddpm = run_vireo({"sample", folder.checkpoint, "--num", "4", "--sampler", "ddpm", "--no-ema", "--out",
                                  folder / "ddpm.png"},
                                 folder);
  REQUIRE(ddpm.exit_code == 0);
  const auto ddpm_line = nlohmann::json::parse(ddpm.out);
  CHECK(ddpm_line["steps"] == 50);
  CHECK(ddpm_line["ema"] == false);
  CHECK(png_size(folder / "ddpm.png") == std::pair<int64_t, int64_t>{2 * (8 + 2) + 2, 2 * (8 + 2) + 2});
}

TEST_CASE("cli: sample with a classifier reports the recognisable fraction and the class counts") {
  DdpmFolder folder("cli_sample_classifier");
  write_text(folder / "classifier.yaml", vireo::testing::tiny_resnet_recipe(folder / "classifier", 1));
  REQUIRE(run_vireo({"train", folder / "classifier.yaml", "--progress", "none"}, folder).exit_code == 0);
  const Outcome sampled = run_vireo({"sample", folder.checkpoint, "--num", "12", "--steps", "4", "--batch", "5", "--out",
                                     folder / "grid.png", "--classifier", folder / "classifier/checkpoint.safetensors"},
                                    folder);
  INFO(sampled.err);
  REQUIRE(sampled.exit_code == 0);
  const auto line = nlohmann::json::parse(sampled.out);
  const double fraction = line["recognisable_fraction"].get<double>();
  CHECK(fraction >= 0.0);
  CHECK(fraction <= 1.0);
  const std::vector<int64_t> counts = line["class_counts"].get<std::vector<int64_t>>();
  CHECK(counts.size() == 4);
  CHECK(std::accumulate(counts.begin(), counts.end(), int64_t{0}) == 12);
}

TEST_CASE("cli refuses: sample of a checkpoint that is not a DDPM run") {
  RecipeFolder folder("cli_sample_not_ddpm");
  REQUIRE(run_vireo({"train", folder.recipe, "--progress", "none"}, folder).exit_code == 0);
  check_refused({"sample", folder.run_dir + "/checkpoint.safetensors", "--out", folder / "grid.png"}, folder,
                {"run/checkpoint.safetensors", "'classification' checkpoint", "'ddpm'"});
  CHECK_FALSE(std::filesystem::exists(folder / "grid.png"));
}

TEST_CASE("cli refuses: sample with a classifier that is not a classifier or takes other images") {
  DdpmFolder folder("cli_sample_bad_classifier");
  check_refused({"sample", folder.checkpoint, "--out", folder / "grid.png", "--classifier", folder.checkpoint}, folder,
                {"ddpm/checkpoint.safetensors", "--classifier", "'ddpm' checkpoint"});
  // A classifier of 12×12 images for samples of 8×8.
  write_text(folder / "classifier.yaml", vireo::testing::tiny_resnet_recipe(folder / "classifier", 1));
  REQUIRE(run_vireo({"train", folder / "classifier.yaml", "--progress", "none", "data.synthetic.height=12",
                     "data.synthetic.width=12", "data.train_transforms.0.size=12"},
                    folder)
              .exit_code == 0);
  check_refused({"sample", folder.checkpoint, "--out", folder / "grid.png", "--classifier",
                 folder / "classifier/checkpoint.safetensors"},
                folder, {"classifier/checkpoint.safetensors", "takes 1×12×12 images", "the samples are 1×8×8"});
  CHECK_FALSE(std::filesystem::exists(folder / "grid.png"));
}

TEST_CASE("cli refuses: sample with steps 0 or beyond T") {
  DdpmFolder folder("cli_sample_steps");
  check_refused({"sample", folder.checkpoint, "--steps", "0", "--out", folder / "grid.png"}, folder,
                {"--steps", "[1, 50]", "got 0"});
  check_refused({"sample", folder.checkpoint, "--steps", "51", "--out", folder / "grid.png"}, folder,
                {"--steps", "[1, 50]", "got 51"});
  check_refused({"sample", folder.checkpoint, "--sampler", "ddpm", "--steps", "10", "--out", folder / "grid.png"},
                folder, {"--steps", "--sampler ddim"});
  CHECK_FALSE(std::filesystem::exists(folder / "grid.png"));
}

TEST_CASE("cli refuses: sample to an unwritable output") {
  DdpmFolder folder("cli_sample_unwritable");
  check_refused({"sample", folder.checkpoint, "--out", folder / "missing/grid.png"}, folder,
                {"--out", "missing/grid.png", "cannot write"});
  check_refused({"sample", folder.checkpoint, "--out", folder.path.string()}, folder, {"--out", "is a folder"});
  CHECK_FALSE(std::filesystem::exists(folder / "missing"));
  CHECK_FALSE(std::filesystem::exists(folder.path.string() + ".tmp"));
}

// ---- vireo steer ----

TEST_CASE("cli: steer fits AurA and LinEAS on a trained ViT then applies and sweeps them") {
  TempFolder folder("cli_steer");
  const std::string run_dir = folder / "run", recipe = folder / "vit.yaml";
  write_text(recipe, vireo::testing::tiny_vit_recipe(run_dir, 1));
  REQUIRE(run_vireo({"train", recipe, "--progress", "lines"}, folder).exit_code == 0);
  const std::string checkpoint = run_dir + "/checkpoint.safetensors";
  const std::string aura = folder / "aura.safetensors", lineas = folder / "lineas.safetensors";

  const Outcome fitted = run_vireo({"steer", "fit", checkpoint, "--method", "aura", "--points", R"(blocks\.\d+\.mlp\.fc1)",
                                    "--source", "class=0", "--target", "class!=0", "-o", aura},
                                   folder);
  INFO(fitted.err);
  REQUIRE(fitted.exit_code == 0);
  CHECK(fitted.out.find("aura at 2 points") != std::string::npos);
  const vireo::steering::Intervention loaded = vireo::steering::Intervention::load(aura);
  CHECK(loaded.method == "aura");
  CHECK(loaded.points.front().first == "blocks.0.mlp.fc1");
  CHECK(loaded.settings.at("source") == "class=0");

  REQUIRE(run_vireo({"steer", "fit", checkpoint, "--method", "lineas", "--steps", "10", "--batch-size", "8", "--points",
                     "blocks.1.mlp.fc2", "--source", "class=1", "--target", "class=2", "-o", lineas},
                    folder)
              .exit_code == 0);
  const Outcome applied =
      run_vireo({"steer", "apply", checkpoint, "--intervention", aura, lineas, "--strength", "1", "0.5"}, folder);
  INFO(applied.err);
  REQUIRE(applied.exit_code == 0);
  CHECK(applied.out.find("attached " + aura + " (aura) at strength 1") < applied.out.find("attached " + lineas));
  CHECK(applied.out.find("class  clean top1  steered top1") != std::string::npos);

  // The sweep's strength-0 row is the unsteered model: its overall accuracy is vireo eval's.
  const std::string figure = folder / "sweep.svg", sweep_json = run_dir + "/steering_sweep.json";
  const Outcome swept = run_vireo({"steer", "sweep", checkpoint, "--intervention", aura, "--strengths", "0", "1",
                                   "--figure", figure, "--json", sweep_json},
                                  folder);
  INFO(swept.err);
  REQUIRE(swept.exit_code == 0);
  const Outcome evaluated = run_vireo({"eval", checkpoint}, folder);
  const size_t at = evaluated.out.find("test top1: ") + 11;
  const std::string clean_top1 = evaluated.out.substr(at, evaluated.out.find('%', at) - at + 1);  // "36.67%"
  std::istringstream rows(swept.out);
  std::string header, unsteered;
  std::getline(rows, header);
  std::getline(rows, unsteered);
  CHECK(header == "strength  class 0  class 1  class 2  all");
  CHECK(unsteered.rfind("       0", 0) == 0);
  CHECK(unsteered.substr(unsteered.size() - clean_top1.size()) == clean_top1);
  CHECK(read_text(figure).rfind("<svg", 0) == 0);

  // The sweep as JSON, in the run folder, becomes the report's strength-sweep component (vireo train
  // already wrote a report of the run, without it).
  CHECK(read_text(run_dir + "/report.html").find("<b>strength sweep</b>") != std::string::npos);
  CHECK(read_text(sweep_json).find("\"all top-1 (%)\"") != std::string::npos);
  const Outcome reported = run_vireo({"report", run_dir, "-o", folder / "report.html", "--no-tsne"}, folder);
  INFO(reported.err);
  REQUIRE(reported.exit_code == 0);
  const std::string report = read_text(folder / "report.html");
  CHECK(report.find("data-component=\"strength-sweep\"") != std::string::npos);
  CHECK(report.find("test top-1 against strength: aura") != std::string::npos);
}

// The options experiment 6 of the README uses: LinEAS's sparse-group weight, Linear-AcT without support, and
// the transport metrics of sweep (the share of class-A test images predicted as B, the logit W₂² to B).
TEST_CASE("cli: steer fits sparse LinEAS and unsupported AcT and sweeps them with transport metrics") {
  TempFolder folder("cli_steer_transport");
  const std::string run_dir = folder / "run", recipe = folder / "vit.yaml";
  write_text(recipe, vireo::testing::tiny_vit_recipe(run_dir, 1));
  REQUIRE(run_vireo({"train", recipe, "--progress", "lines"}, folder).exit_code == 0);
  const std::string checkpoint = run_dir + "/checkpoint.safetensors";
  const std::string dense = folder / "dense.safetensors", sparse = folder / "sparse.safetensors",
                    act = folder / "act.safetensors";
  const std::vector<std::string> lineas = {"steer", "fit", checkpoint, "--method", "lineas", "--steps", "10",
                                           "--batch-size", "8", "--points", R"(blocks\.\d+\.mlp\.fc1)", "--source",
                                           "class=1", "--target", "class=2"};
  std::vector<std::string> dense_args = lineas, sparse_args = lineas;
  dense_args.insert(dense_args.end(), {"--learning-rate", "0.01", "-o", dense});
  // λ₂ = 1e5: the first proximal step's threshold τλ₂√d = 1e-3·1e5·8 (d = 64 units) dwarfs any Adam step,
  // so every point goes back to the identity.
  sparse_args.insert(sparse_args.end(), {"--group", "1e5", "-o", sparse});
  const Outcome fitted_dense = run_vireo(dense_args, folder);
  INFO(fitted_dense.err);
  REQUIRE(fitted_dense.exit_code == 0);
  CHECK(fitted_dense.out.find("active units 128 of 128, active points 2 of 2") != std::string::npos);
  CHECK(std::stod(vireo::steering::Intervention::load(dense).settings.at("learning_rate")) == 0.01);
  const Outcome fitted_sparse = run_vireo(sparse_args, folder);
  REQUIRE(fitted_sparse.exit_code == 0);
  CHECK(fitted_sparse.out.find("active units 0 of 128, active points 0 of 2") != std::string::npos);
  const vireo::steering::Intervention loaded = vireo::steering::Intervention::load(sparse);
  CHECK(loaded.settings.at("active_points") == "0");
  CHECK(std::stod(loaded.settings.at("group")) == 1e5);

  REQUIRE(run_vireo({"steer", "fit", checkpoint, "--method", "act", "--no-support", "--points", "blocks.1.mlp.fc1",
                     "--source", "class=1", "--target", "class=2", "-o", act},
                    folder)
              .exit_code == 0);
  const vireo::steering::Intervention transport = vireo::steering::Intervention::load(act);
  CHECK(transport.settings.at("support") == "none");
  CHECK_FALSE(transport.points.front().second.has_support());

  const std::string sweep_json = folder / "sweep.json";
  const Outcome swept = run_vireo({"steer", "sweep", checkpoint, "--intervention", dense, "--strengths", "0", "1",
                                   "--source-class", "1", "--target-class", "2", "--json", sweep_json},
                                  folder);
  INFO(swept.err);
  REQUIRE(swept.exit_code == 0);
  CHECK(swept.out.find("strength  class 1 predicted as 2  logit W2^2 to class 2") != std::string::npos);
  const auto sweep = nlohmann::json::parse(read_text(sweep_json));
  std::map<std::string, std::vector<double>> metrics;
  for (const auto& metric : sweep["metrics"]) metrics[metric["name"]] = metric["values"].get<std::vector<double>>();
  REQUIRE(metrics.count("class 1 predicted as 2 (%)"));
  REQUIRE(metrics.count("logit W2^2 class 1 to class 2"));
  for (size_t i = 0; i < 2; ++i) {
    // A class-1 image predicted as 2 is not predicted as 1: the two shares add up to at most 100%.
    CHECK(metrics["class 1 predicted as 2 (%)"][i] + metrics["class 1 top-1 (%)"][i] <= 100.0 + 1e-9);
    CHECK(metrics["logit W2^2 class 1 to class 2"][i] > 0.0);
  }
  // The sparse fit is the identity: every strength gives the clean model's metrics.
  const std::string identity_json = folder / "identity.json";
  REQUIRE(run_vireo({"steer", "sweep", checkpoint, "--intervention", sparse, "--strengths", "0", "1",
                     "--source-class", "1", "--target-class", "2", "--json", identity_json},
                    folder)
              .exit_code == 0);
  for (const auto& metric : nlohmann::json::parse(read_text(identity_json))["metrics"])
    CHECK(metric["values"][0] == metric["values"][1]);
  check_refused({"steer", "sweep", checkpoint, "--intervention", dense, "--source-class", "1", "--target-class", "5"},
                folder, {"5", "3 classes"});
  check_refused({"steer", "sweep", checkpoint, "--intervention", dense, "--source-class", "1", "--target-class", "1"},
                folder, {"--target-class", "1"});
}

TEST_CASE("cli: steer neuron-path finds a path on a trained ViT and compares ablating it with baselines") {
  TempFolder folder("cli_neuron_path");
  const std::string run_dir = folder / "run", recipe = folder / "vit.yaml";
  write_text(recipe, vireo::testing::tiny_vit_recipe(run_dir, 1));
  REQUIRE(run_vireo({"train", recipe, "--progress", "lines"}, folder).exit_code == 0);
  const std::string checkpoint = run_dir + "/checkpoint.safetensors", output = folder / "path.json";
  const Outcome found = run_vireo({"steer", "neuron-path", checkpoint, "--class", "1", "--examples", "4", "--steps", "5",
                                   "--eval-examples", "6", "--random-paths", "2", "-o", output},
                                  folder);
  INFO(found.err);
  REQUIRE(found.exit_code == 0);
  CHECK(found.out.find("class 1: path from 4 train images (m = 5 steps)") != std::string::npos);
  const vireo::steering::NeuronPathReport report = vireo::steering::NeuronPathReport::load(output);
  CHECK(report.path.method == "joint_influence");
  CHECK(report.path.label == 1);
  CHECK(report.path.layers == std::vector<int64_t>{0, 1});
  REQUIRE(report.path.effect.has_value());
  CHECK(report.path.effect->images == 6);
  REQUIRE(report.baselines.size() == 3);
  CHECK(report.baselines[0].method == "argmax");
  CHECK(report.baselines[2].method == "random");
  // Every path is measured on the same images: one clean probability, printed in every row.
  for (const auto& baseline : report.baselines)
    CHECK(baseline.effect->clean_probability == report.path.effect->clean_probability);
  CHECK(report.settings.at("steps") == "5");
  check_refused({"steer", "neuron-path", checkpoint, "--class", "3", "-o", output}, folder, {"--class 3", "3 classes"});
}

TEST_CASE("cli refuses: steer with a bad sample spec or points that match nothing") {
  TempFolder folder("cli_steer_refused");
  const std::string run_dir = folder / "run", recipe = folder / "vit.yaml";
  write_text(recipe, vireo::testing::tiny_vit_recipe(run_dir, 1));
  REQUIRE(run_vireo({"train", recipe, "--progress", "lines"}, folder).exit_code == 0);
  const std::string checkpoint = run_dir + "/checkpoint.safetensors";
  const std::string output = folder / "out.safetensors";
  check_refused({"steer", "fit", checkpoint, "--points", "blocks.0.mlp.fc1", "--source", "klass=0", "--target",
                 "class=1", "-o", output},
                folder, {"--source", "klass=0"});
  check_refused({"steer", "fit", checkpoint, "--points", R"(blocks\.\d+\.mlp\.fc9)", "--source", "class=0",
                 "--target", "class=1", "-o", output},
                folder, {"fc9", "nearby paths"});
  check_refused({"steer", "fit", checkpoint, "--points", "blocks.0.mlp.fc1", "--source", "class=0", "--target",
                 "class=9", "-o", output},
                folder, {"class=9", "selects no samples"});
  check_refused({"steer", "apply", checkpoint, "--intervention", recipe}, folder, {"vit.yaml"});
  CHECK_FALSE(std::filesystem::exists(output));
}

// ---- vireo robustness ----

TEST_CASE("cli: robustness writes the AUC matrices of each group and their gap") {
  RecipeFolder folder("cli_robustness");
  const Outcome trained = run_vireo({"train", folder.recipe, "--progress", "none"}, folder);
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  const std::string checkpoint = folder.run_dir + "/checkpoint.safetensors";
  const std::vector<std::string> args = {"robustness", checkpoint, "--perturb", "noise:0.1,0.3", "--perturb",
                                         "jpeg:50", "--groups", "low=0,1;high=2,3", "eval.batch_size=7"};
  auto run_into = [&](const std::string& out) {
    std::vector<std::string> with_out = args;
    with_out.insert(with_out.end(), {"-o", out});
    const Outcome outcome = run_vireo(with_out, folder);
    INFO(outcome.err);
    REQUIRE(outcome.exit_code == 0);
    return outcome;
  };
  const Outcome outcome = run_into(folder / "first");
  CHECK(outcome.out.find("gap") != std::string::npos);
  CHECK(outcome.out.find("noise@0.3") != std::string::npos);
  const auto json = nlohmann::json::parse(read_text(folder / "first/robustness.json"));
  CHECK(json["checkpoint"] == checkpoint);
  REQUIRE(json["perturbations"].size() == 2);
  CHECK(json["perturbations"][0]["name"] == "noise");
  CHECK(json["perturbations"][0]["strengths"] == nlohmann::json({0.0, 0.1, 0.3}));
  CHECK(json["perturbations"][1]["strengths"] == nlohmann::json({0.0, 50.0}));
  CHECK(json["groups"] == nlohmann::json::parse(R"([{"name":"low","classes":[0,1]},{"name":"high","classes":[2,3]}])"));
  CHECK(json["examples"] == 48);
  for (const char* group : {"low", "high"}) {
    INFO(group);
    const auto& auc = json["auc"][group];
    REQUIRE(auc.size() == 2);
    REQUIRE(auc[0].size() == 3);
    REQUIRE(auc[1].size() == 2);
    // The strength-0 column of every perturbation is the clean evaluation.
    CHECK(auc[0][0] == json["clean_auc"][group]);
    CHECK(auc[1][0] == json["clean_auc"][group]);
    for (const auto& row : auc)
      for (double value : row) CHECK((value >= 0.0 && value <= 1.0));
    CHECK(json["accuracy"][group].size() == 2);
  }
  for (size_t p = 0; p < 2; ++p)
    for (size_t s = 0; s < json["gap"][p].size(); ++s)
      CHECK(json["gap"][p][s].get<double>() ==
            doctest::Approx(std::abs(json["auc"]["low"][p][s].get<double>() - json["auc"]["high"][p][s].get<double>())));
  // The heat maps: the report library's page of robustness.json, one map per group and the gap.
  const std::string page = read_text(folder / "first/report.html");
  CHECK(page.find("<svg") != std::string::npos);
  CHECK(page.find("<rect") != std::string::npos);
  for (const char* title : {">low (clean AUC", ">high (clean AUC", ">gap<"}) CHECK(page.find(title) != std::string::npos);
  // Seeded noise: the same command gives the same matrices.
  run_into(folder / "second");
  CHECK(nlohmann::json::parse(read_text(folder / "second/robustness.json"))["auc"] == json["auc"]);

  // Every class its own group, of the EMA model, into the default folder beside the checkpoint; and a
  // partition from a file.
  const Outcome by_class = run_vireo({"robustness", checkpoint, "--perturb", "rotation:30", "--ema"}, folder);
  INFO(by_class.err);
  REQUIRE(by_class.exit_code == 0);
  const auto classes = nlohmann::json::parse(read_text(folder.run_dir + "/robustness/robustness.json"));
  CHECK(classes["groups"].size() == 4);
  CHECK(classes["auc"].contains("class_3"));
  CHECK(classes["model"] == "ema");
  CHECK(json["model"] == "model");
  std::string labels = "site\n";
  for (int n = 0; n < 48; ++n) labels += std::to_string(n % 2) + "\n";
  write_text(folder / "sites.csv", labels);
  const Outcome by_file = run_vireo({"robustness", checkpoint, "--perturb", "contrast:0.5", "--groups-file",
                                     folder / "sites.csv", "-o", folder / "sites"}, folder);
  INFO(by_file.err);
  REQUIRE(by_file.exit_code == 0);
  const auto sites = nlohmann::json::parse(read_text(folder / "sites/robustness.json"));
  CHECK(sites["groups"][1]["name"] == "group_1");
  CHECK(sites["groups"][1]["classes"].size() >= 1);
}

TEST_CASE("cli refuses: robustness with an unknown perturbation or a group file of the wrong length") {
  RecipeFolder folder("cli_robustness_refused");
  REQUIRE(run_vireo({"train", folder.recipe, "--progress", "none"}, folder).exit_code == 0);
  const std::string checkpoint = folder.run_dir + "/checkpoint.safetensors";
  check_refused({"robustness", checkpoint, "--perturb", "fog:1"}, folder,
                {"unknown perturbation 'fog'", "gaussian_blur", "motion_blur", "brightness", "contrast", "noise", "jpeg", "rotation"});
  write_text(folder / "short.txt", "0\n1\n");
  check_refused({"robustness", checkpoint, "--groups-file", folder / "short.txt"}, folder,
                {"short.txt", "2 group labels for 48 test examples"});
  check_refused({"robustness", checkpoint, "--groups", "a=0;b=9"}, folder, {"--groups", "class 9", "4 classes"});
}

// ---- vireo steer bias-features ----

TEST_CASE("cli: steer bias-features collects trains locates and generates with proportions") {
  DdpmFolder folder("cli_bias_features");
  write_text(folder / "classifier.yaml", vireo::testing::tiny_resnet_recipe(folder / "classifier", 1));
  REQUIRE(run_vireo({"train", folder / "classifier.yaml", "--progress", "none"}, folder).exit_code == 0);
  const std::string classifier = folder / "classifier/checkpoint.safetensors";
  const std::string activations = folder / "acts.safetensors", sae = folder / "sae.safetensors",
                    probe = folder / "probe.safetensors", features = folder / "features.safetensors";
  auto step = [&](const std::vector<std::string>& args) {
    std::vector<std::string> full{"steer", "bias-features"};
    full.insert(full.end(), args.begin(), args.end());
    const Outcome outcome = run_vireo(full, folder);
    INFO(args.front(), ": ", outcome.err);
    REQUIRE(outcome.exit_code == 0);
    return nlohmann::json::parse(outcome.out);
  };
  const auto collected = step({"collect", folder.checkpoint, "--classifier", classifier, "--group", "1,2", "--num", "12",
                               "--steps", "4", "-o", activations});
  CHECK(collected["timesteps"] == 4);
  CHECK(collected["bottleneck"] == std::vector<int64_t>{16, 4, 4});
  const std::vector<int64_t> counts = collected["attribute_counts"].get<std::vector<int64_t>>();
  CHECK(counts.size() == 2);
  CHECK(counts[0] + counts[1] == 12);
  const auto trained = step({"train-sae", activations, "--expansion", "2", "--k", "4", "--sae-steps", "30", "-o", sae});
  CHECK(trained["features"] == 32);
  CHECK(trained["final_loss"].get<double>() < trained["first_loss"].get<double>());
  const auto probed = step({"probe", activations, "--epochs", "5", "-o", probe});
  CHECK(probed["timesteps"].size() == 4);
  const auto located = step({"locate", activations, "--sae", sae, "--probe", probe, "--top", "3", "-o", features});
  CHECK(located["features"].size() == 2);
  CHECK(located["features"][0].size() == 3);

  // Scale 1 edits nothing: the samples, their classes and their Fréchet distance are vireo sample's.
  const std::vector<std::string> generate{"generate", folder.checkpoint, "--sae", sae, "--features", features,
                                          "--classifier", classifier, "--group", "1,2", "--num", "12", "--steps", "4",
                                          "--frechet", "12", "--proportions", "0.2,0.8", "--scale"};
  auto with_scale = [&](const std::string& scale) {
    std::vector<std::string> args = generate;
    args.push_back(scale);
    return step(args);
  };
  const auto identity = with_scale("1");
  const Outcome sampled = run_vireo({"sample", folder.checkpoint, "--num", "12", "--steps", "4", "--classifier", classifier,
                                     "--frechet", "12", "--out", folder / "grid.png"},
                                    folder);
  REQUIRE(sampled.exit_code == 0);
  const auto unsteered = nlohmann::json::parse(sampled.out);
  CHECK(identity["class_counts"] == unsteered["class_counts"]);
  CHECK(identity["frechet_distance"].get<double>() == unsteered["frechet_distance"].get<double>());
  const auto steered = with_scale("4");
  CHECK(steered["requested"] == std::vector<double>{0.2, 0.8});
  const double achieved = steered["achieved"][0].get<double>() + steered["achieved"][1].get<double>();
  CHECK(achieved == doctest::Approx(1.0));
  CHECK(steered["frechet_distance"].get<double>() >= 0.0);

  check_refused({"steer", "bias-features", "generate", folder.checkpoint, "--sae", sae, "--features", features,
                 "--classifier", classifier, "--group", "1,2", "--proportions", "0.2,0.2,0.6"},
                folder, {"--proportions", "one per attribute class (2)"});
  check_refused({"steer", "bias-features", "generate", folder.checkpoint, "--sae", probe, "--features", features,
                 "--classifier", classifier, "--proportions", "0.5,0.5"},
                folder, {"probe.safetensors", "not a Vireo sparse autoencoder"});
  check_refused({"steer", "bias-features", "locate", activations, "--sae", sae, "--probe", probe, "--first-timestep",
                 "1000", "-o", folder / "never.safetensors"},
                folder, {"no recorded timestep"});
  CHECK_FALSE(std::filesystem::exists(folder / "never.safetensors"));
}
