// What every process needs: validated configuration, the database, Redis, the clock and logging.
import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AppConfig } from './config/app-config';
import { loadConfig } from './config/load-config';
import { processEnv } from './config/process-env';
import { Clock, SystemClock } from './clock';
import { dataSourceOptions } from './database/data-source-options';
import { loggerOptions } from './logging/logger-options';
import { RedisService } from './redis/redis.service';
import { RedisSubscriber } from './redis/redis-subscriber';
import { IdGenerator, RandomIdGenerator } from './id-generator';
import { Metrics } from './metrics/metrics';
import { MetricsServer } from './metrics/metrics-server';
import { ShutdownState } from './lifecycle/shutdown-state';

export interface CoreModuleOptions {
  /** The environment to configure from; the process environment when omitted. */
  env?: Record<string, string | undefined>;
  /** Where log lines go instead of standard output (tests read them from a stream). */
  logDestination?: DestinationStream;
}

@Global()
@Module({})
export class CoreModule {
  static forRoot(options: CoreModuleOptions = {}): DynamicModule {
    const env = options.env ?? processEnv();
    return {
      module: CoreModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          ignoreEnvVars: true,
          load: [() => ({ app: loadConfig(env) })],
        }),
        LoggerModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (configService: ConfigService) =>
            loggerOptions(configService.get<AppConfig>('app')!, options.logDestination),
        }),
        TypeOrmModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (configService: ConfigService) => {
            const config = configService.get<AppConfig>('app')!;
            return {
              ...dataSourceOptions(config),
              autoLoadEntities: true,
              migrationsRun: config.databaseMigrate,
              migrationsTransactionMode: 'each' as const,
              retryAttempts: config.nodeEnv === 'test' ? 0 : 10,
              retryDelay: 2000,
            };
          },
        }),
      ],
      providers: [
        {
          provide: AppConfig,
          inject: [ConfigService],
          useFactory: (c: ConfigService) => c.get<AppConfig>('app')!,
        },
        { provide: Clock, useClass: SystemClock },
        { provide: IdGenerator, useClass: RandomIdGenerator },
        RedisService,
        RedisSubscriber,
        Metrics,
        MetricsServer,
        ShutdownState,
      ],
      exports: [
        AppConfig,
        Clock,
        IdGenerator,
        RedisService,
        RedisSubscriber,
        Metrics,
        MetricsServer,
        ShutdownState,
      ],
    };
  }
}
