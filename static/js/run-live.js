// The project page's live view of a run: one WebSocket per page, events in order.
// The server renders the panel; this script appends events as they arrive, moves the
// progress bar, and asks htmx to re-render the panel (and the file list) when a step
// changes what they show. On reconnect it sends the last sequence number it saw.
(function () {
  "use strict";
  var REFRESHING = ["QuestionAsked", "QuestionAnswered", "SpecificationGenerated", "ArchitectureDesigned",
    "TasksCreated", "StepsPlanned", "CodeGenerated", "PipelineCommandExecuted", "FixApplied", "ErrorFixed",
    "GenerationStarted", "GenerationResumed", "GenerationCompleted", "GenerationFailed", "GenerationCancelled"];
  var QUIET = ["ProjectStateUpdated", "GenerationStepCompleted"];
  var panelId = "generation-panel";
  var lastSeq = {};
  var retry = 500;
  var refreshTimer = null;

  function panel() { return document.getElementById(panelId); }

  function labels() {
    var node = document.getElementById("event-labels");
    return node ? JSON.parse(node.textContent) : {};
  }

  function socketUrl(root) {
    var run = root.dataset.run;
    var after = lastSeq[run] || Number(root.dataset.seq || 0);
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var query = run ? "?run=" + encodeURIComponent(run) + "&after=" + after : "";
    return scheme + "//" + location.host + document.getElementById("generation").dataset.ws + query;
  }

  function refresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      var root = panel();
      if (!root || !window.htmx) { return; }
      htmx.ajax("GET", root.dataset.panelUrl, { target: "#" + panelId, swap: "outerHTML" });
      // The files follow the latest step, unless the user chose a step to look at.
      if (document.getElementById("project-live") && !/[?&]step=/.test(location.search)) {
        htmx.ajax("GET", location.pathname + location.search,
          { target: "#project-live", select: "#project-live", swap: "outerHTML" });
      }
    }, 150);
  }

  function show(event) {
    var root = panel();
    if (!root) { return; }
    if (event.name === "ProjectStateUpdated") {
      var bar = document.getElementById("run-progress");
      var text = document.getElementById("run-progress-text");
      if (bar) { bar.value = event.payload.progress; }
      if (text) { text.textContent = event.payload.progress + "%"; }
    }
    var list = document.getElementById("timeline");
    if (list && QUIET.indexOf(event.name) < 0 && !list.querySelector('[data-seq="' + event.seq + '"]')
        && event.run === root.dataset.run) {
      var item = document.createElement("li");
      item.className = "event " + event.name;
      item.dataset.seq = event.seq;
      var label = document.createElement("span");
      label.className = "event-label";
      label.textContent = labels()[event.name] || event.name;
      item.appendChild(label);
      list.appendChild(item);
      list.scrollTop = list.scrollHeight;
    }
    if (REFRESHING.indexOf(event.name) >= 0 || event.run !== root.dataset.run) { refresh(); }
  }

  var connected = false;

  var outputCommand = null;

  function output(message) {
    var terminal = document.getElementById("terminal");
    if (!terminal) { return; }
    if (outputCommand !== message.command) {  // a new command: a fresh screen
      outputCommand = message.command;
      terminal.textContent = "$ " + message.command + "\n";
    }
    terminal.textContent += message.text;
    terminal.scrollTop = terminal.scrollHeight;
    if (message.final) { outputCommand = null; }
  }

  var streams = {};
  var STREAM_KEEP = 6000;  // characters of an agent's answer kept on screen

  function stream(message) {
    var box = document.getElementById("agent-text");
    if (!box) { return; }
    var key = message.agent + (message.detail ? " · " + message.detail : "");
    streams[key] = ((streams[key] || "") + message.text).slice(-STREAM_KEEP);
    box.textContent = key + "\n" + streams[key];
    box.scrollTop = box.scrollHeight;
    if (message.final) { delete streams[key]; }
  }

  function activity(message) {
    var line = document.getElementById("activity");
    if (!line) { return; }
    var names = labels();
    line.textContent = (names["working:" + message.agent] || message.agent) +
      (message.detail ? " · " + message.detail : "");
  }

  function connect() {
    var root = panel();
    if (!root || root.dataset.run === undefined) { return; }  // the panel has not loaded yet
    connected = true;
    var socket = new WebSocket(socketUrl(root));
    socket.onopen = function () { document.body.dataset.socket = "open"; };
    socket.onmessage = function (message) {
      retry = 500;  // the server talks: reset the backoff (not on open, which may fail next)
      var event = JSON.parse(message.data);  // {type: events | output | activity, ...}
      if (event.type === "output") { return output(event); }
      if (event.type === "activity") { return activity(event); }
      if (event.type === "stream") { return stream(event); }
      if (event.type !== "events") { return; }
      event.events.forEach(function (one) {
        if (one.seq <= (lastSeq[one.run] || 0)) { return; }
        lastSeq[one.run] = one.seq;
        show(one);
      });
    };
    socket.onclose = function (closed) {
      document.body.dataset.socket = "closed";
      connected = false;
      if (closed.code === 4401 || closed.code === 4403) { return; }  // not allowed: do not retry
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  // The panel arrives by htmx after the page: connect once it is there. A re-render that
  // raced a newer event (it shows an older sequence number) is simply fetched again.
  document.addEventListener("htmx:afterSettle", function () {
    var list = document.getElementById("timeline");
    if (list) { list.scrollTop = list.scrollHeight; }
    if (!connected) { connect(); return; }
    var root = panel();
    if (root && root.dataset.run && Number(root.dataset.seq || 0) < (lastSeq[root.dataset.run] || 0)) {
      refresh();
    }
  });
  document.addEventListener("DOMContentLoaded", connect);
})();
