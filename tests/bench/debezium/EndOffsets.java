// Prints, every INTERVAL_MS, "<unix seconds> <sum of end offsets>" over the
// partitions of every topic whose name starts with PREFIX, until stdin
// closes or it is killed. Run as a single-file source program on the
// Connect worker's classpath (java -cp 'libs/*' EndOffsets.java ...) by
// tests/bench/cdc_throughput.sh: one JVM for the whole leg, so polling the
// broker costs a request, not a JVM start, every interval. Topics appear
// while it runs (Debezium creates them on first record): the topic list is
// refreshed every poll.
//
//   java -cp 'LIBS/*' EndOffsets.java BROKERS PREFIX INTERVAL_MS
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class EndOffsets {
  public static void main(String[] args) throws Exception {
    String brokers = args[0], prefix = args[1];
    long interval = Long.parseLong(args[2]);
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    // Offsets of written records (acks=all records are committed at once on
    // a single broker); read_uncommitted: no transactions are in play.
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
      while (true) {
        List<TopicPartition> parts = new ArrayList<>();
        for (Map.Entry<String, List<PartitionInfo>> t : c.listTopics().entrySet()) {
          if (!t.getKey().startsWith(prefix)) continue;
          for (PartitionInfo pi : t.getValue()) parts.add(new TopicPartition(pi.topic(), pi.partition()));
        }
        long sum = 0;
        for (long v : c.endOffsets(parts).values()) sum += v;
        System.out.printf("%.3f %d %d%n", System.currentTimeMillis() / 1000.0, sum, parts.size());
        System.out.flush();
        Thread.sleep(interval);
      }
    }
  }
}
