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
      item.className = "event msg system " + event.name;
      item.dataset.seq = event.seq;
      var label = document.createElement("span");
      label.className = "event-label";
      label.textContent = labels()[event.name] || event.name;
      item.appendChild(label);
      list.appendChild(item);
      var conversation = document.getElementById("conversation");
      if (conversation && nearBottom) { conversation.scrollTop = conversation.scrollHeight; }
    }
    if (REFRESHING.indexOf(event.name) >= 0 || event.run !== root.dataset.run) { refresh(); }
  }

  var connected = false;
  var nearBottom = true;  // the conversation follows new messages unless the user scrolled up
  var keptScroll = 0;

  var ACTIVE = ["queued", "running", "awaiting_input"];
  var STOPPED = ["failed", "cancelled"];
  var statusBefore = "";

  var firstPanel = true;
  var userScrolled = false;  // before the panel came: its arrival leaves their scroll alone
  ["wheel", "touchmove"].forEach(function (name) {
    window.addEventListener(name, function () { userScrolled = true; }, { passive: true, once: true });
  });
  window.addEventListener("keydown", function (event) {
    if (/^(Page(Up|Down)|Arrow(Up|Down)|Home|End| )$/.test(event.key)) { userScrolled = true; }
  });

  // When the run stops, or a page opens on a stopped run, what can be done next (Resume,
  // Start again) is brought into view: on a phone the controls sit under the whole
  // conversation, on a desktop at the foot of their own scrolling box. Never against a
  // scroll the user made, and only on the first render of a page opened on one.
  function nextStepsIntoView() {
    var root = panel();
    if (root && root.dataset.run === undefined) { return; }  // the panel has not loaded yet
    var was = statusBefore, opened = firstPanel && !userScrolled;
    statusBefore = root ? root.dataset.status : "";
    firstPanel = firstPanel && !root;
    if (!root || STOPPED.indexOf(root.dataset.status) < 0 || !(opened || ACTIVE.indexOf(was) >= 0)) {
      return;
    }
    var target = document.getElementById("run-start") || document.getElementById("run-change")
      || document.getElementById("no-key") || document.getElementById("run-resume");
    if (target) { target.scrollIntoView({ block: "nearest" }); }
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var conversation = document.getElementById("conversation");
    if (event.detail.target.id === panelId && panel()) { statusBefore = panel().dataset.status; }
    if (!conversation || event.detail.target.id !== panelId) { return; }
    keptScroll = conversation.scrollTop;
    nearBottom = conversation.scrollHeight - conversation.scrollTop - conversation.clientHeight < 80;
  });

  // The command whose output is arriving: its text from character `from` to `length` of
  // its output (`from` is 0 unless pieces were missed), counted in code points as the
  // server counts them.
  var running = null;

  // Every command of the run stays on screen: a new one is appended under the last. Each
  // execution is its own section (a rerun after a worker restart starts a new one). A
  // page loaded (or a terminal re-rendered) while a command runs has its output so far
  // from the server (data-unfinished, data-length); each piece says where in the output
  // it starts (offset), so what the page has is never added twice, and a gap (pieces
  // sent before this page listened) has the panel fetched once more to fill it.
  function output(message) {
    var terminal = document.getElementById("terminal");
    if (!terminal) { return; }
    var execution = message.execution || message.command;
    if (!running || running.execution !== execution) {
      running = { execution: execution, from: 0, text: "", length: 0, refetched: false };
    }
    var section = unfinished(terminal, execution);
    if (section && section.dataset.length !== undefined) { adopt(section); }
    if (!section) {
      if (message.final && !message.text) { running = null; return; }  // its log is shown
      section = opened(terminal, message.command, execution);
    }
    var piece = Array.from(message.text);
    var offset = typeof message.offset === "number" ? message.offset : running.length;
    if (offset > running.length) {
      running.from = offset;
      running.text = "";
      running.length = offset;
      if (!running.refetched) { running.refetched = true; refresh(); }
    }
    var fresh = piece.slice(running.length - offset).join("");
    running.text += fresh;
    running.length = Math.max(running.length, offset + piece.length);
    section.append(fresh);
    terminal.scrollTop = terminal.scrollHeight;
    if (message.final) { running = null; }
  }

  function unfinished(terminal, execution) {
    var section = null;
    terminal.querySelectorAll("[data-unfinished]").forEach(function (found) {
      if (found.dataset.unfinished === execution) { section = found; }
    });
    return section;
  }

  // A terminal re-rendered while a command runs: its copy joined with this page's now,
  // not at the next piece (which may be a while coming).
  function rejoin() {
    var terminal = document.getElementById("terminal");
    var section = running && terminal ? unfinished(terminal, running.execution) : null;
    if (section && section.dataset.length !== undefined) { adopt(section); }
  }

  // The server's copy of the running output (complete from its start) joined with what
  // this page has beyond it.
  function adopt(section) {
    var length = Number(section.dataset.length);
    delete section.dataset.length;
    if (length >= running.from) {
      running.text = section.textContent + Array.from(running.text).slice(length - running.from).join("");
      running.from = 0;
      running.refetched = false;  // whole again: a later gap may fetch once more
      running.length = Math.max(length, running.length);
      section.textContent = running.text;
    } else {  // it lacks what was missed too: the two side by side
      section.append(running.text);
    }
  }

  // A new section, appended, not rewritten: the sections above keep their marks.
  function opened(terminal, command, execution) {
    if (terminal.dataset.empty) { terminal.textContent = ""; }
    delete terminal.dataset.empty;
    var ends = terminal.textContent.match(/\n{0,2}$/)[0].length;
    var section = document.createElement("span");
    section.dataset.unfinished = execution;
    section.textContent = running.text;
    terminal.append((terminal.textContent ? "\n\n".slice(ends) : "") + "$ " + command + "\n", section);
    return section;
  }

  var streams = {};
  var STREAM_KEEP = 60000;  // characters of an agent's answer kept while it streams

  // An agent's answer arrives as JSON, a piece at a time. Close what is open (a string,
  // objects, lists), drop an unfinished member if that is what breaks it, and parse.
  function partialJson(text) {
    var start = text.search(/[{[]/);
    if (start < 0) { return null; }
    text = text.slice(start);
    var closers = [], cuts = [], inString = false, escaped = false;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (inString) {
        if (escaped) { escaped = false; } else if (c === "\\") { escaped = true; } else if (c === '"') { inString = false; }
      } else if (c === '"') { inString = true; }
      else if (c === "{") { closers.push("}"); }
      else if (c === "[") { closers.push("]"); }
      else if (c === "}" || c === "]") { closers.pop(); }
      else if (c === ",") { cuts.push([i, closers.slice()]); }
    }
    var attempts = [text + (inString ? (escaped ? '\\"' : '"') : "") + closers.slice().reverse().join("")];
    for (var k = cuts.length - 1; k >= Math.max(0, cuts.length - 3); k--) {
      attempts.push(text.slice(0, cuts[k][0]) + cuts[k][1].slice().reverse().join(""));
    }
    attempts.push(text[0] === "[" ? "[]" : "{}");  // nothing whole yet
    for (var a = 0; a < attempts.length; a++) {
      try { return JSON.parse(attempts[a]); } catch (ignore) { /* try a shorter one */ }
    }
    return null;
  }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) { node.textContent = text; }
    if (className) { node.className = className; }
    return node;
  }

  function itemText(item, names) {
    if (typeof item !== "object" || item === null) { return String(item); }
    if (item.type && item.content !== undefined) {  // a planned step
      var files = (item.related_files || []).join(", ");
      return (names["step:" + item.type] || item.type) + ": " + (files ? files + " — " : "") + item.content;
    }
    if (item.path) { return item.path + (item.purpose ? " — " + item.purpose : ""); }
    return item.description || item.title || item.summary || JSON.stringify(item);
  }

  // The answer as a person reads it: headings, paragraphs, lists; a file as its path.
  function readable(value, names, into) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) { return; }
    if (typeof value.path === "string" && typeof value.content === "string") {
      into.appendChild(element("p", (names["answer:path"] || "File") + ": " + value.path));
      into.appendChild(element("p", value.content.split("\n").length + " " + (names["answer:lines"] || "lines"), "help"));
      return;
    }
    Object.keys(value).forEach(function (key) {
      var field = value[key];
      if (field === null || field === "" || (Array.isArray(field) && !field.length)) { return; }
      var heading = names["answer:" + key];
      if (Array.isArray(field)) {
        if (heading) { into.appendChild(element("h4", heading)); }
        var list = element("ul");
        field.forEach(function (item) { list.appendChild(element("li", itemText(item, names))); });
        into.appendChild(list);
      } else if (typeof field === "object") {
        readable(field, names, into);
      } else if (key !== "language" && key !== "content") {
        into.appendChild(element("p", (heading && key !== "summary" && key !== "explanation" ? heading + ": " : "") + field));
      }
    });
  }

  function stream(message) {
    var box = document.getElementById("agent-text");
    if (!box) { return; }
    var key = message.agent + (message.detail ? " · " + message.detail : "");
    streams[key] = ((streams[key] || "") + message.text).slice(-STREAM_KEEP);
    var parsed = partialJson(streams[key]);
    var body = element("div", undefined, "answer");
    if (parsed) { readable(parsed, labels(), body); } else { body.textContent = streams[key]; }
    box.replaceChildren(element("p", key, "stream-agent"), body);
    box.scrollTop = box.scrollHeight;
    var conversation = document.getElementById("conversation");
    if (conversation && nearBottom) { conversation.scrollTop = conversation.scrollHeight; }
    if (message.final) { delete streams[key]; }
  }

  function activity(message) {
    var line = document.getElementById("activity");
    if (!line) { return; }
    var names = labels();
    line.textContent = (names["working:" + message.agent] || message.agent) +
      (message.detail ? " · " + message.detail : "");
  }

  // The Preview tab: the app's output as it comes, and the panel fetched again when the
  // preview's status changes (started, crashed, stopped).
  var PREVIEW_KEEP = 20000;

  function previewOutput(message) {
    var root = document.getElementById("preview-panel");
    var box = document.getElementById("preview-output");
    if (!root || !box || root.dataset.preview !== message.preview) { return; }
    box.textContent = (box.textContent + message.text).slice(-PREVIEW_KEEP);
    box.scrollTop = box.scrollHeight;
  }

  function previewStatus() {
    var root = document.getElementById("preview-panel");
    if (!root || !window.htmx || !root.dataset.panelUrl) { return; }
    htmx.ajax("GET", root.dataset.panelUrl, { target: "#preview-panel", swap: "outerHTML" });
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
      if (event.type === "preview_output") { return previewOutput(event); }
      if (event.type === "preview_status") { return previewStatus(event); }
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
    var conversation = document.getElementById("conversation");
    if (conversation) { conversation.scrollTop = nearBottom ? conversation.scrollHeight : keptScroll; }
    nextStepsIntoView();
    rejoin();
    if (!connected) { connect(); return; }
    var root = panel();
    if (root && root.dataset.run && Number(root.dataset.seq || 0) < (lastSeq[root.dataset.run] || 0)) {
      refresh();
    }
  });
  document.addEventListener("DOMContentLoaded", connect);
})();
