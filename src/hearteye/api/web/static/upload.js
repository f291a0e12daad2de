// Upload page: files by chooser or drag and drop, sent with XMLHttpRequest so that the
// upload's progress can be shown; then "Analysing" until the service answers. The service's
// error message is shown as it is written, under the list of files it is about.
"use strict";
(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("file");
  const zone = document.getElementById("dropzone");
  const filesBox = document.getElementById("files");
  const list = document.getElementById("file-list");
  const errorBox = document.getElementById("upload-error");
  const progressBox = document.getElementById("progress-box");
  const bar = document.getElementById("progress");
  const label = document.getElementById("progress-label");
  const button = document.getElementById("upload-button");
  let dropped = null; // files dropped where the input cannot take them

  function chosen() { return dropped || input.files; }

  function size(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1024 / 1024).toFixed(1) + " MiB";
  }

  function showFiles() {
    list.replaceChildren();
    for (const f of chosen()) {
      const li = document.createElement("li");
      li.textContent = f.name + " (" + size(f.size) + ")";
      list.append(li);
    }
    filesBox.hidden = chosen().length === 0;
  }

  function clearError() { errorBox.hidden = true; errorBox.textContent = ""; }

  function fail(message) {
    progressBox.hidden = true;
    button.disabled = false;
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  input.addEventListener("change", function () { dropped = null; clearError(); showFiles(); });

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    e.preventDefault();
    const files = e.dataTransfer && e.dataTransfer.files;
    if (!files || files.length === 0) return;
    try { input.files = files; dropped = null; } catch (err) { dropped = files; }
    clearError();
    showFiles();
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    clearError();
    if (chosen().length === 0) { fail("Choose or drop the ECG files first."); input.focus(); return; }
    if (!form.elements.patient_name.value.trim()) {
      fail("Enter the patient's name.");
      form.elements.patient_name.focus();
      return;
    }
    const data = new FormData(form);
    if (dropped) {
      data.delete("file");
      for (const f of dropped) data.append("file", f, f.name);
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.responseType = "json";
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.setRequestHeader("X-CSRF-Token", form.elements.csrf_token.value);
    xhr.upload.addEventListener("progress", function (ev) {
      if (!ev.lengthComputable) return;
      bar.value = Math.round((100 * ev.loaded) / ev.total);
      label.textContent = "Uploading… " + bar.value + " %";
    });
    xhr.upload.addEventListener("load", function () {
      bar.removeAttribute("value"); // indeterminate while the service analyses
      label.textContent = "Analysing…";
    });
    xhr.addEventListener("load", function () {
      const body = xhr.response;
      if (xhr.status === 201 && body && body.url) {
        label.textContent = "Done: opening the result…";
        window.location.assign(body.url);
      } else if (body && body.error) {
        fail(body.error);
      } else {
        fail("The upload failed (HTTP " + xhr.status + "); try again.");
      }
    });
    xhr.addEventListener("error", function () {
      fail("The connection to HeartEye failed; check the network and try again.");
    });
    bar.value = 0;
    label.textContent = "Uploading…";
    progressBox.hidden = false;
    button.disabled = true;
    xhr.send(data);
  });
})();
