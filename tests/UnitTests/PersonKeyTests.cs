using System.Text;
using CioSegment.Mapping;

namespace CioSegment.UnitTests;

/// <summary>The Kafka key: identifiers.id, else customer_id, else email, else cio_id, else event_id.</summary>
public class PersonKeyTests
{
    [Theory]
    [InlineData("""{"event_id":"e1","object_type":"email","data":{"identifiers":{"id":"p1","email":"a@b.c","cio_id":"c1"},"customer_id":"old"}}""", "p1")]
    [InlineData("""{"event_id":"e1","object_type":"email","data":{"identifiers":{"id":42}}}""", "42")]
    [InlineData("""{"event_id":"e1","object_type":"email","data":{"identifiers":{"email":"a@b.c"},"customer_id":"old"}}""", "old")]
    [InlineData("""{"event_id":"e1","object_type":"email","data":{"identifiers":{"email":"a@b.c","cio_id":"c1"}}}""", "a@b.c")]
    [InlineData("""{"event_id":"e1","object_type":"customer","data":{"email_address":"x@y.z"}}""", "x@y.z")]
    [InlineData("""{"event_id":"e1","object_type":"email","data":{"recipient":"r@y.z"}}""", "r@y.z")]
    [InlineData("""{"event_id":"e1","object_type":"sms","data":{"recipient":"+1555","identifiers":{"cio_id":"c1"}}}""", "cio_c1")]
    [InlineData("""{"event_id":"e1","object_type":"sms","data":{"recipient":"+1555"}}""", "e1")]
    [InlineData("""{"event_id":"caf\u00e9","data":{}}""", "café")]
    public void Key_is_the_person_the_event_is_about(string body, string expected)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        Assert.True(ReportingWebhookParser.TryParse(bytes, out var parsed, out _));
        Assert.Equal(expected, PersonKeys.TextOf(bytes, parsed));
    }

    [Fact]
    public void A_webhook_naming_nobody_without_event_id_is_keyed_by_the_hash_of_its_body_so_its_retries_meet()
    {
        // Bug: such a webhook had a null key, so librdkafka's partitioner put each retry in a random
        // partition, where the transformer's per-partition dedup could not see the first one.
        var bytes = """{"object_type":"sms","data":{}}"""u8.ToArray();
        Assert.True(ReportingWebhookParser.TryParse(bytes, out var parsed, out _));
        var key = PersonKeys.TextOf(bytes, parsed);
        Assert.Matches("^cio-h-[A-Z2-7]{26}$", key);
        Assert.Equal(key, PersonKeys.TextOf(bytes.ToArray(), parsed));
        Assert.Equal(key, Encoding.UTF8.GetString(PersonKeys.OfBody(bytes)));

        var other = """{"object_type":"sms","data":{} }"""u8.ToArray();
        Assert.True(ReportingWebhookParser.TryParse(other, out var otherParsed, out _));
        Assert.NotEqual(key, PersonKeys.TextOf(other, otherParsed));
    }

    [Fact]
    public void Overlong_keys_are_replaced_by_a_stable_digest()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"event_id\":\"e\",\"data\":{\"identifiers\":{\"id\":\"" + new string('p', 900_000) + "\"}}}");
        Assert.True(ReportingWebhookParser.TryParse(bytes, out var parsed, out _));
        var key = PersonKeys.TextOf(bytes, parsed)!;
        Assert.StartsWith("sha256:", key, StringComparison.Ordinal);
        Assert.Equal(71, key.Length);
        Assert.Equal(key, PersonKeys.TextOf(bytes, parsed));
    }
}
