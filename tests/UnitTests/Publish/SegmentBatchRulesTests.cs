using System.Text;
using CioSegment.DevDoubles.Segment;

namespace CioSegment.UnitTests.Publish;

/// <summary>The Segment stand-ins refuse exactly what Segment refuses (docs/domain.md, "Segment HTTP Tracking API").</summary>
public sealed class SegmentBatchRulesTests
{
    private static readonly string Auth = "Basic " + Convert.ToBase64String("wk:"u8);

    private static SegmentBatchVerdict Check(string body, string method = "POST", string path = "/v1/batch", string? auth = null, string? contentType = "application/json") =>
        SegmentBatchRules.Check(method, path, auth ?? Auth, contentType, Encoding.UTF8.GetBytes(body));

    private static string Batch(params string[] events) => "{\"batch\":[" + string.Join(",", events) + "],\"sentAt\":\"2024-03-01T12:00:00Z\"}";

    private static string Event(string id, int padding = 0) =>
        $"{{\"type\":\"track\",\"event\":\"Email Opened\",\"userId\":\"u\",\"properties\":{{\"pad\":\"{new string('x', padding)}\"}},\"messageId\":\"{id}\"}}";

    [Fact]
    public void A_well_formed_batch_is_accepted_with_its_write_key_and_messageIds_in_order()
    {
        var verdict = Check(Batch(Event("a"), Event("b"), Event("c")), path: "/proxy/v1/batch");

        Assert.True(verdict.Accepted);
        Assert.Equal(200, verdict.Status);
        Assert.Equal("wk", verdict.WriteKey);
        Assert.Equal(["a", "b", "c"], verdict.MessageIds);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wk")]
    [InlineData("Basic !!!")]
    [InlineData("Basic Og==")]   // ":", an empty write key
    public void Requests_without_a_write_key_get_401(string? authorization)
    {
        var verdict = SegmentBatchRules.Check("POST", "/v1/batch", authorization, "application/json", Encoding.UTF8.GetBytes(Batch(Event("a"))));

        Assert.Equal(401, verdict.Status);
        Assert.False(verdict.Accepted);
        Assert.Empty(verdict.MessageIds);
    }

    [Fact]
    public void Wrong_path_and_method_are_404_and_405()
    {
        Assert.Equal(404, Check(Batch(Event("a")), path: "/v1/track").Status);
        Assert.Equal(405, Check(Batch(Event("a")), method: "PUT").Status);
    }

    [Theory]
    [InlineData("not json", "invalid JSON")]
    [InlineData("[]", "JSON object")]
    [InlineData("{\"events\":[]}", "no \"batch\"")]
    [InlineData("{\"batch\":{}}", "must be an array")]
    [InlineData("{\"batch\":[]}", "empty")]
    [InlineData("{\"batch\":[1]}", "batch[0] must be an object")]
    [InlineData("{\"batch\":[{\"type\":\"track\"}]}", "batch[0].messageId")]
    [InlineData("{\"batch\":[{\"messageId\":7}]}", "batch[0].messageId")]
    [InlineData("{\"batch\":[{\"messageId\":\"a\"}]} trailing", "invalid JSON")]
    public void Malformed_bodies_get_400_naming_what_is_wrong(string body, string problem)
    {
        var verdict = Check(body);

        Assert.Equal(400, verdict.Status);
        Assert.Contains(problem, verdict.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_body_that_is_not_json_by_content_type_gets_400() =>
        Assert.Equal(400, Check(Batch(Event("a")), contentType: "text/plain").Status);

    [Fact]
    public void Segment_limits_request_size_event_size_and_event_count()
    {
        var justUnder = Event("big", SegmentBatchRules.MaxEventBytes - Event("big").Length);
        Assert.Equal(SegmentBatchRules.MaxEventBytes, Encoding.UTF8.GetByteCount(justUnder));
        Assert.True(Check(Batch(justUnder)).Accepted);
        Assert.Contains("batch[0] is larger", Check(Batch(Event("big", SegmentBatchRules.MaxEventBytes))).Problem, StringComparison.Ordinal);

        var many = Enumerable.Range(0, SegmentBatchRules.MaxEventsPerBatch).Select(i => $"{{\"messageId\":\"{i}\"}}").ToArray();
        Assert.True(Check(Batch(many)).Accepted);
        Assert.Contains("more than 2500", Check(Batch([.. many, "{\"messageId\":\"x\"}"])).Problem, StringComparison.Ordinal);

        var events = Enumerable.Range(0, 20).Select(i => Event("e" + i, 30_000)).ToArray();
        var verdict = Check(Batch(events));
        Assert.Equal(400, verdict.Status);
        Assert.Contains("larger than 512000 bytes", verdict.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void MessageIds_keep_their_escapes_as_sent() =>
        Assert.Equal(["a\\u00e9\\ud800"], Check(Batch("{\"messageId\":\"a\\u00e9\\ud800\"}")).MessageIds);
}
