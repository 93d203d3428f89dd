using CioSegment.Processor.Publish;

namespace CioSegment.UnitTests.Publish;

public sealed class RetryAfterTests
{
    [Theory]
    [InlineData(5, 60, 5)]          // as asked
    [InlineData(120, 60, 60)]       // at most RetryMaxDelay
    [InlineData(3600, 3600, 300)]   // at most 300 s, as Segment's own client
    public void Retry_after_is_honoured_up_to_retry_max_delay_and_300_seconds(int askedSeconds, int retryMaxDelaySeconds, int waitedSeconds)
    {
        var options = new PublisherOptions { RetryMaxDelay = TimeSpan.FromSeconds(retryMaxDelaySeconds) };

        Assert.Equal(TimeSpan.FromSeconds(waitedSeconds), BatchPublisher.RetryAfterDelay(TimeSpan.FromSeconds(askedSeconds), options));
    }

    [Theory]
    [InlineData(400, false)]
    [InlineData(401, true)]
    [InlineData(403, true)]
    [InlineData(404, true)]
    [InlineData(408, true)]
    [InlineData(410, true)]
    [InlineData(413, true)]
    [InlineData(429, true)]
    [InlineData(460, true)]
    [InlineData(500, true)]
    [InlineData(501, true)]
    [InlineData(503, true)]
    public void Only_400_is_about_the_events_every_other_answer_about_the_request(int status, bool retried) =>
        Assert.Equal(retried, SegmentBatchClient.IsRetriable(status));
}
