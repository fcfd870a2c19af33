// The Palisade console's only script: uploads with progress (through the API's POST /file)
// and reloading a report while its file is still being analysed. Pages work without it.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function cell(row, text) {
  const td = document.createElement("td");
  if (text !== undefined) td.textContent = text;
  row.appendChild(td);
  return td;
}

// Asks for the report until the file is final, then shows its result and a link to it.
function follow(dataId, resultCell, verdictCell) {
  const poll = () => {
    fetch("/file/" + encodeURIComponent(dataId), { credentials: "same-origin" })
      .then((answer) => answer.json())
      .then((report) => {
        const info = report.process_info || {};
        const results = report.scan_results || {};
        if (info.progress_percentage === 100 && info.result !== "Processing") {
          resultCell.textContent = "";
          const link = document.createElement("a");
          link.href = "/console/files/" + encodeURIComponent(dataId);
          link.textContent = results.scan_all_result_a;
          resultCell.appendChild(link);
          verdictCell.textContent = info.result;
          verdictCell.className = "verdict " + info.result;
        } else {
          resultCell.textContent = "In Progress (" + (info.progress_percentage || 0) + " %)";
          setTimeout(poll, 500);
        }
      })
      .catch(() => setTimeout(poll, 2000));
  };
  poll();
}

function uploadOne(file, rule, body) {
  return new Promise((done) => {
    const row = document.createElement("tr");
    row.className = "upload";
    cell(row, file.name);
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    cell(row).appendChild(bar);
    const resultCell = cell(row, "Waiting");
    const verdictCell = cell(row, "");
    body.appendChild(row);
    const request = new XMLHttpRequest();
    request.open("POST", "/file");
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.setRequestHeader("filename", encodeURIComponent(file.name));
    request.setRequestHeader("rule", encodeURIComponent(rule));
    request.setRequestHeader("oms-csrf-token", csrfToken());
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) bar.value = Math.round((event.loaded * 100) / event.total);
    };
    request.onload = () => {
      let answer = {};
      try {
        answer = JSON.parse(request.responseText);
      } catch (error) {
        answer = { err: request.statusText };
      }
      if (request.status === 200 && answer.data_id) {
        bar.value = 100;
        row.dataset.id = answer.data_id;
        follow(answer.data_id, resultCell, verdictCell);
      } else {
        resultCell.textContent = "Refused: " + (answer.err || request.status);
        resultCell.className = "error";
      }
      done();
    };
    request.onerror = () => {
      resultCell.textContent = "Upload failed: the connection was lost";
      resultCell.className = "error";
      done();
    };
    resultCell.textContent = "Uploading";
    request.send(file);
  });
}

// Uploads the chosen files, three at a time.
async function uploadAll(event) {
  event.preventDefault();
  const files = Array.from(document.getElementById("files").files);
  const rule = document.getElementById("rule").value;
  const body = document.querySelector("#uploads tbody");
  const waiting = files.slice();
  const lane = async () => {
    while (waiting.length > 0) await uploadOne(waiting.shift(), rule, body);
  };
  await Promise.all([lane(), lane(), lane()]);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  if (form) form.addEventListener("submit", uploadAll);
  const refresh = document.getElementById("refresh");
  if (refresh) setTimeout(() => location.reload(), Number(refresh.dataset.refresh) * 1000);
});
