# The browser test of reports: two tiny real runs (a classifier and a DDPM, about a second each) plus the
# fixtures of the files other commands write (robustness.json, neuron_paths.json, steering_sweep.json) ->
# `vireo report` -> headless Chromium. Passes when the page loads with no error and no console message and
# every component's marker is in the DOM Chromium dumps; keeps a screenshot (WORK_DIR/report.png) as the
# test's artifact. A control page with an injected failing script must be caught, so the check itself is
# known to work. Prints "SKIP: chromium not found" (CTest's skip pattern) when no Chromium is installed.
#
#   cmake -DVIREO=<bin/vireo> -DFIXTURES=<tests/report/fixtures> -DWORK_DIR=<folder> -P run_browser_test.cmake
find_program(CHROMIUM NAMES chromium chromium-browser)
if(NOT CHROMIUM)
  message("SKIP: chromium not found (tools/setup/install-deps.sh installs it)")
  return()
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
function(run_checked)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ARGN}\nexited with ${rc}:\n${out}\n${err}")
  endif()
endfunction()
foreach(run classifier ddpm)
  run_checked(${VIREO} train ${FIXTURES}/tiny_${run}.yaml run.dir=${WORK_DIR}/${run} --progress none)
endforeach()
foreach(file robustness.json neuron_paths.json steering_sweep.json)
  file(COPY_FILE ${FIXTURES}/${file} ${WORK_DIR}/classifier/${file})
endforeach()
run_checked(${VIREO} report ${WORK_DIR}/classifier ${WORK_DIR}/ddpm -o ${WORK_DIR}/report.html)

# Chromium headless, its own profile folder; as root it needs --no-sandbox. Console messages go to stderr.
set(browser ${CHROMIUM} --headless --disable-gpu --no-sandbox --user-data-dir=${WORK_DIR}/profile
            --enable-logging=stderr --v=0 --hide-scrollbars)
function(load_page page dom_variable console_variable)
  execute_process(COMMAND ${browser} --dump-dom file://${page} RESULT_VARIABLE rc OUTPUT_VARIABLE dom
                  ERROR_VARIABLE log TIMEOUT 60)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "chromium exited with ${rc} on ${page}:\n${log}")
  endif()
  # Console messages are logged as "…:INFO:CONSOLE:39] "message", source: …" (older builds: CONSOLE(39)).
  string(REGEX MATCHALL "CONSOLE[:(][^\n]*" console "${log}")
  set(${dom_variable} "${dom}" PARENT_SCOPE)
  set(${console_variable} "${console}" PARENT_SCOPE)
endfunction()

load_page(${WORK_DIR}/report.html dom console)
if(NOT dom MATCHES "data-loaded=\"true\"")
  message(FATAL_ERROR "the report did not finish loading (no data-loaded on <html>):\n${dom}")
endif()
if(NOT dom MATCHES "data-errors=\"\"")
  string(REGEX MATCH "data-errors=\"[^\"]*\"" errors "${dom}")
  message(FATAL_ERROR "the report met errors in the browser: ${errors}")
endif()
if(console)
  message(FATAL_ERROR "the report wrote to the browser console:\n${console}")
endif()
foreach(component training-curves confusion-matrix embedding nearest-neighbours samples strength-sweep
                  robustness neuron-paths)
  if(NOT dom MATCHES "data-component=\"${component}\"")
    message(FATAL_ERROR "component '${component}' is missing from the report's DOM")
  endif()
endforeach()
file(WRITE ${WORK_DIR}/report.dom.html "${dom}")

# The control: the same page with a script that throws must be reported, in the DOM and on the console.
file(READ ${WORK_DIR}/report.html page)
string(REPLACE "<h1>" "<script>undefined_function();</script><h1>" page "${page}")
file(WRITE ${WORK_DIR}/broken.html "${page}")
load_page(${WORK_DIR}/broken.html broken_dom broken_console)
if(NOT broken_dom MATCHES "data-errors=\"[^\"]*undefined_function" OR NOT broken_console MATCHES "undefined_function")
  message(FATAL_ERROR "a page with a failing script passed the check: the error recorder does not work")
endif()

execute_process(COMMAND ${browser} --window-size=1280,2600 --screenshot=${WORK_DIR}/report.png
                        file://${WORK_DIR}/report.html
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE log TIMEOUT 60)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK_DIR}/report.png)
  message(FATAL_ERROR "chromium wrote no screenshot (exit ${rc}):\n${log}")
endif()
file(SIZE ${WORK_DIR}/report.png screenshot_bytes)
if(screenshot_bytes LESS 20000)
  message(FATAL_ERROR "the screenshot ${WORK_DIR}/report.png is only ${screenshot_bytes} bytes: a blank page?")
endif()
message("report loaded cleanly with every component; screenshot: ${WORK_DIR}/report.png")
