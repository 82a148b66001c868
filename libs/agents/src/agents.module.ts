// Stored, versioned agents: the cached registry every turn reads, and the service the agents API writes through.
import { Module } from '@nestjs/common';
import { ToolsModule } from '@lib/tools';
import { AgentRegistry } from './agent-registry';
import { AgentRepository } from './agent-repository';
import { AgentService } from './agent-service';

@Module({
  imports: [ToolsModule],
  providers: [AgentRepository, AgentRegistry, AgentService],
  exports: [AgentRegistry, AgentService],
})
export class AgentsModule {}
