using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;

namespace CioSegment.Inspector.Web;

/// <summary>The pages' markup: one layout, no scripts or styles from anywhere but this service.</summary>
internal static class Html
{
    public static string E(string? text) => HtmlEncoder.Default.Encode(text ?? "");

    public static string U(string? text) => Uri.EscapeDataString(text ?? "");

    public static string Time(long? unixMs) => unixMs is { } ms and > 0
        ? DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)
        : "";

    public static string Page(string title, string body, string? script = null)
    {
        var html = new StringBuilder(body.Length + 4096);
        html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">");
        html.Append("<title>").Append(E(title)).Append(" · CioSegment inspector</title><link rel=\"stylesheet\" href=\"").Append(InspectorOptions.PathBase).Append("/inspector.css\"></head><body>");
        html.Append("<header><a class=\"brand\" href=\"").Append(InspectorOptions.PathBase).Append("/\">CioSegment inspector</a><nav>");
        html.Append("<a href=\"").Append(InspectorOptions.PathBase).Append("/\">Search</a>");
        html.Append("<a href=\"").Append(InspectorOptions.PathBase).Append("/live\">Live</a>");
        html.Append("<a href=\"").Append(InspectorOptions.PathBase).Append("/dead-letters\">Dead letters</a></nav></header><main>");
        html.Append("<h1>").Append(E(title)).Append("</h1>").Append(body).Append("</main>");
        if (script is not null)
        {
            html.Append("<script src=\"").Append(InspectorOptions.PathBase).Append('/').Append(script).Append("\"></script>");
        }

        html.Append("</body></html>");
        return html.ToString();
    }

    public static string Badge(string outcome) => $"<span class=\"outcome {E(outcome)}\" data-outcome=\"{E(outcome)}\">{E(outcome.Replace('_', ' '))}</span>";

    public const string Css = """
        :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
        body { margin: 0; }
        header { display: flex; gap: 2rem; align-items: center; padding: .6rem 1.5rem; background: #1d2330; }
        header a { color: #e8ecf3; text-decoration: none; margin-right: 1.2rem; }
        header .brand { font-weight: 600; }
        main { padding: 1rem 1.5rem; }
        h1 { font-size: 1.3rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
        form.search { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: 1rem; }
        form.search label { display: flex; flex-direction: column; font-size: .8rem; gap: .2rem; }
        input, select, button { font: inherit; padding: .3rem .5rem; }
        button { cursor: pointer; }
        table { border-collapse: collapse; width: 100%; background: #fff; font-size: .9rem; }
        th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e3e6ec; vertical-align: top; }
        th { background: #eef0f4; font-weight: 600; }
        pre { background: #fff; border: 1px solid #e3e6ec; padding: .7rem; overflow: auto; max-height: 28rem; font-size: .8rem; }
        .outcome { padding: .05rem .45rem; border-radius: .6rem; font-size: .8rem; background: #e3e6ec; white-space: nowrap; }
        .outcome.delivered { background: #d4f1dc; } .outcome.dead_lettered { background: #f8d3d3; }
        .outcome.filtered, .outcome.deduplicated { background: #ece7f8; } .outcome.held { background: #fbe8c8; }
        .muted { color: #6b7385; } .error { color: #a11; } .notice { background: #fff7dd; padding: .6rem; border: 1px solid #eedc9a; }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; background: #fff; padding: .7rem; border: 1px solid #e3e6ec; }
        dt { font-weight: 600; } dd { margin: 0; word-break: break-all; }
        """;

    public const string LiveScript = """
        (() => {
          const table = document.getElementById('live');
          const source = table.dataset.source;
          const rows = new Map();
          const url = table.dataset.api + (source ? '?source=' + encodeURIComponent(source) : '');
          const events = new EventSource(url);
          const status = document.getElementById('live-status');
          events.onopen = () => { status.textContent = 'connected'; };
          events.onerror = () => { status.textContent = 'reconnecting…'; };
          events.onmessage = (message) => {
            const note = JSON.parse(message.data);
            let row = (note.raw && rows.get('r:' + note.raw)) || (note.messageId && rows.get('m:' + note.messageId));
            if (!row) {
              if (note.what !== 'stored') { return; }
              row = table.tBodies[0].insertRow(0);
              for (let i = 0; i < 6; i++) row.insertCell();
              const link = document.createElement('a');
              link.href = table.dataset.base + '/events/' + encodeURIComponent(note.source) + '/' + encodeURIComponent(note.eventId || ('raw-' + note.raw));
              link.textContent = note.eventId || ('raw-' + note.raw);
              row.cells[0].textContent = new Date(note.at).toISOString();
              row.cells[1].textContent = note.source;
              row.cells[2].textContent = note.person || '';
              row.cells[3].textContent = note.event || '';
              row.cells[4].appendChild(link);
              if (note.raw) rows.set('r:' + note.raw, row);
              if (note.messageId) rows.set('m:' + note.messageId, row);
              while (table.tBodies[0].rows.length > 500) table.tBodies[0].deleteRow(-1);
            }
            const what = note.what === 'attempt' ? 'mapped' : note.what;
            const badge = document.createElement('span');
            badge.className = 'outcome ' + what;
            badge.dataset.outcome = what;
            badge.textContent = what.replace('_', ' ') + (note.status ? ' (' + note.status + ')' : '') + (note.reason ? ': ' + note.reason : '');
            row.cells[5].replaceChildren(badge);
          };
        })();
        """;
}
